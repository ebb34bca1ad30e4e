"""Conversation ids the gateway issues and signs itself.

A client never chooses a conversation: the web chat and the REST endpoint get a token, and the
core sees a sender id derived from it with the channel as prefix ("web-…", "rest-…"). A token of
one channel is refused by another, and no token can name a WhatsApp conversation (those are the
person's number, known only from Meta's signed webhook). The token fits the widget's session-id
pattern ``[A-Za-z0-9_-]{8,64}``: 22 characters of randomness, 22 of signature."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Optional

PREFIXES = {"socketio": "web", "rest": "rest"}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{44}")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class ConversationIds:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the gateway needs a secret to sign conversation ids")
        self._key = hashlib.sha256(b"gids conversation ids\0" + secret.encode()).digest()

    def _signature(self, channel: str, nonce: str) -> str:
        mac = hmac.new(self._key, f"{channel}:{nonce}".encode(), hashlib.sha256).digest()
        return _b64(mac[:16])

    def issue(self, channel: str) -> str:
        nonce = _b64(secrets.token_bytes(16))
        return nonce + self._signature(channel, nonce)

    def sender(self, channel: str, token: object) -> Optional[str]:
        """The core's sender id for a token this gateway issued for ``channel``; None otherwise."""
        if channel not in PREFIXES or not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        nonce, given = token[:22], token[22:]
        if not hmac.compare_digest(given, self._signature(channel, nonce)):
            return None
        return f"{PREFIXES[channel]}-{nonce}"
