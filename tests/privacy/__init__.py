"""Tests of bot.privacy: redaction, the redacting tracker store and logs, retention."""
