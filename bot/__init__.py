"""Werkcentrum Gids: routing, handover and the record behind the Rasa assistant."""

__version__ = "0.1.0"
