"""Dutch language processing: the spaCy pipeline (nl_gids) and the Rasa components around it."""
