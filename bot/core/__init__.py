"""What the frozen core (Rasa 3.6.21 on Python 3.10) loads besides the NLU components and the
redacting tracker store: the internal channel through which the gateway talks to it.

Everything here must stay importable on Python 3.10 with Rasa's own pins (Sanic 21.12)."""
