"""How the files service reads content for a download, with a fake repository (no I/O)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from services.files import service

CONTENT = bytes(range(200)) * 5  # 1,000 bytes in pieces of 64
FILE = SimpleNamespace(content_id=uuid.uuid4(), chunk_bytes=64, size_bytes=len(CONTENT), filename="f.bin")


class Connections:
    """Repositories over CONTENT that count how many are checked out, now and in all."""

    def __init__(self, missing_seq: int | None = None) -> None:
        self.open = 0
        self.checkouts = 0
        self.missing_seq = missing_seq

    async def read_piece(
        self, *, content_id: uuid.UUID, seq: int, start: int, length: int, whole: bool
    ) -> bytes | None:
        if seq == self.missing_seq:
            return None
        offset = seq * FILE.chunk_bytes + start
        return CONTENT[offset : offset + length]

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        self.open += 1
        self.checkouts += 1
        try:
            yield self
        finally:
            self.open -= 1


async def _read(
    connections: Connections, offset: int, length: int, *, pause: float = 0
) -> tuple[bytes, list[int]]:
    received, open_while_waiting = b"", []
    async for piece in service.read_content(connections, file=FILE, offset=offset, length=length):  # type: ignore[arg-type]
        received += piece
        if pause:
            await asyncio.sleep(pause)
            open_while_waiting.append(connections.open)
    return received, open_while_waiting


def test_a_range_is_read_in_order_on_one_connection_when_the_reader_keeps_up() -> None:
    connections = Connections()
    received, _ = asyncio.run(_read(connections, 100, 700))
    assert received == CONTENT[100:800]
    assert (connections.checkouts, connections.open) == (1, 0)


def test_a_slow_reader_holds_no_connection_while_it_is_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "HOLD_WHILE_FULL_SECONDS", 0.005)
    connections = Connections()
    received, open_while_waiting = asyncio.run(_read(connections, 0, 6 * 64, pause=0.05))
    assert received == CONTENT[: 6 * 64]
    assert open_while_waiting[:4] == [0, 0, 0, 0], open_while_waiting
    assert connections.checkouts > 1


def test_content_replaced_during_a_read_aborts_it() -> None:
    with pytest.raises(service.Aborted) as caught:
        asyncio.run(_read(Connections(missing_seq=3), 0, len(CONTENT)))
    assert caught.value.reason == "FILE_CHANGED"
