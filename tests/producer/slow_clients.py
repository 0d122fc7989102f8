"""Raw-socket clients that misbehave slowly, for the intake's connection limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson

from tests.komo_example import KOMO_BODY

BODY = orjson.dumps(KOMO_BODY)
HEAD = b"POST /v1/submissions HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\n"


def request(body: bytes = BODY) -> bytes:
    """A whole request, as a well-behaved client sends it."""
    return HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body


@dataclass
class RawClient:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def trickle(self, data: bytes, interval_s: float) -> None:
        """Send ``data`` a byte at a time; stops quietly once the server has closed the connection."""
        for byte in data:
            try:
                await self.send(bytes([byte]))
            except ConnectionError:
                return
            await asyncio.sleep(interval_s)

    async def answer_and_close(self, timeout_s: float) -> bytes:
        """Everything the server sends until it closes the connection (fails after ``timeout_s``)."""
        async with asyncio.timeout(timeout_s):
            try:
                return await self.reader.read()
            except ConnectionError:
                return b""

    async def one_response(self, timeout_s: float = 10.0) -> bytes:
        """The status line and headers of one response (the connection stays open)."""
        async with asyncio.timeout(timeout_s):
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            return head + await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def body_trickler(
    port: int, connecting: asyncio.Semaphore, *, declared_bytes: int, sent_bytes: int, interval_s: float
) -> bytes:
    """Send headers and ``sent_bytes`` of a ``declared_bytes`` body at once, then a byte every
    ``interval_s`` until the server closes; returns what the server answered."""
    try:
        async with connecting:
            client = await RawClient.connect(port)
            await client.send(HEAD + b"Content-Length: %d\r\n\r\n" % declared_bytes + b"x" * sent_bytes)
    except OSError:
        return b""
    trickling = asyncio.create_task(client.trickle(b"x" * (declared_bytes - sent_bytes), interval_s))
    try:
        return await client.answer_and_close(timeout_s=120)
    except OSError:
        return b""
    finally:
        trickling.cancel()
        await asyncio.gather(trickling, return_exceptions=True)
        client.close()


async def body_flood(port: int, clients: int, *, sent_bytes: int, interval_s: float) -> list[bytes]:
    """``clients`` body tricklers at once (a hundred connecting at a time); what each was answered."""
    connecting = asyncio.Semaphore(100)
    return await asyncio.gather(
        *(
            body_trickler(port, connecting, declared_bytes=250_000, sent_bytes=sent_bytes, interval_s=interval_s)
            for _ in range(clients)
        )
    )
