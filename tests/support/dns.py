"""A DNS server for tests: answers A queries for names it was told, over UDP on 127.0.0.1."""

from __future__ import annotations

import socket
import struct
import threading


class DnsServer:
    """Answers `name` with the A records in `records[name]` (changeable while it runs); any other
    name NXDOMAIN, any other type an empty answer."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])
        self.queries = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self._socket.recvfrom(512)
            except OSError:
                return
            try:
                self._socket.sendto(self._answer(data), peer)
            except (OSError, IndexError, struct.error):
                continue

    def _answer(self, query: bytes) -> bytes:
        (ident,) = struct.unpack("!H", query[:2])
        labels, i = [], 12
        while query[i]:
            labels.append(query[i + 1 : i + 1 + query[i]].decode().lower())
            i += query[i] + 1
        qtype, _ = struct.unpack("!HH", query[i + 1 : i + 5])
        question = query[12 : i + 5]
        name = ".".join(labels)
        self.queries += 1
        if name not in self.records:
            return struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
        addresses = list(self.records[name]) if qtype == 1 else []
        answers = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + socket.inet_aton(a) for a in addresses)
        return struct.pack("!HHHHHH", ident, 0x8180, 1, len(addresses), 0, 0) + question + answers

    def close(self) -> None:
        self._socket.close()
