"""The web chat widget's side of the gateway's socket.io protocol (bot/channels/socketio.py), in
Python, for the gateway tests."""
from __future__ import annotations

import asyncio

import socketio


class WidgetClient:
    """The widget's side of the protocol (bot/channels/webchat/static/widget.js), in Python."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.said: asyncio.Queue = asyncio.Queue()
        self.sio.on("session_confirm", self.confirmed.put_nowait)
        self.sio.on("bot_uttered", self.said.put_nowait)
        # The live chat with staff: its messages and the staff member's typing.
        self.live: asyncio.Queue = asyncio.Queue()
        self.typing: asyncio.Queue = asyncio.Queue()
        self.sio.on("live_message", self.live.put_nowait)
        self.sio.on("live_typing", self.typing.put_nowait)

    async def open(self, url: str, session_id=None) -> str:
        await self.sio.connect(url, socketio_path="socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 30)

    async def say(self, text: str, session_id: str, client_ref=None) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id,
                                             **({"client_ref": client_ref} if client_ref else {})})

    async def live_messages(self, until, timeout: float = 20) -> list:
        got = []
        while not any(until(e) for e in got):
            got.append(await asyncio.wait_for(self.live.get(), timeout))
        return got

    async def more_live_messages(self, seconds: float) -> list:
        """What else arrives within ``seconds`` (a replay can come after a live delivery)."""
        got = []
        try:
            while True:
                got.append(await asyncio.wait_for(self.live.get(), seconds))
        except asyncio.TimeoutError:
            return got

    async def sync(self, after: int) -> None:
        await self.sio.emit("live_sync", {"after": after})

    async def answers(self, until, timeout: float = 60) -> list:
        got = []
        while not any(until(e) for e in got):
            got.append(await asyncio.wait_for(self.said.get(), timeout))
        return got

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.said.get(), seconds)
        except asyncio.TimeoutError:
            return True
        return False

    async def close(self) -> None:
        await self.sio.disconnect()
