"""What quota accounting costs upload throughput: uploads by a user under a quota and by one with
none, on one stack, in alternating batches (so drift of the shared machine hits both alike).

Usage is counted for every user whether a quota applies or not (GET /chats shows it), so "off" is
no limit to check against; the statements that count (the announced size's check, the usage upsert
under the user's row lock) are also timed alone, straight to PostgreSQL, as a share of an upload.
"""

from __future__ import annotations

import os
import statistics
import time

from bench.figures import record
from bench.files import SMALL, Client, accounting_seconds
from bench.stack import running_system

BATCHES = 6  # per mode, alternating
UPLOADS = 100  # per batch
GOAL = 0.05


def _batch(client: Client, payload: bytes, prefix: str) -> float:
    """Uploads per second of one batch of new files (each adds to the usage)."""
    start = time.perf_counter()
    for n in range(UPLOADS):
        client.put(f"{prefix}-{n}.bin", payload)
    return UPLOADS / (time.perf_counter() - start)


def main() -> None:
    payload = os.urandom(SMALL)
    # Each client keeps its connection while the other mode's batch runs.
    with running_system(DEPOT_HTTP_KEEP_ALIVE_SECONDS="600") as system:
        admin = system.client(admin=True)
        limited, free = system.client(), system.client()
        clients = {"on": Client(system, limited), "off": Client(system, free)}
        for mode, client in clients.items():  # warm both paths up (an override needs a known user)
            _batch(client, payload, f"warm-{mode}")
        reply = admin.http.put(f"/api/v1/users/{limited.id}/quota", json={"quota_bytes": 1 << 40})
        assert reply.status_code == 200, reply.text
        rates: dict[str, list[float]] = {"on": [], "off": []}
        for batch in range(BATCHES):
            order = ("on", "off") if batch % 2 == 0 else ("off", "on")
            for mode in order:
                rates[mode].append(_batch(clients[mode], payload, f"{mode}-{batch}"))
        on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
        statements = accounting_seconds(system.database.url, limited.id, SMALL)
        share = statements * on
        cost = 1 - on / off
        print(f"4 KiB uploads, {BATCHES} alternating batches of {UPLOADS} per mode:")
        print(f"  quota on  {on:7.1f} uploads/s  (batches: {', '.join(f'{r:.0f}' for r in rates['on'])})")
        print(f"  quota off {off:7.1f} uploads/s  (batches: {', '.join(f'{r:.0f}' for r in rates['off'])})")
        print(f"  accounting statements alone {statements * 1000:.3f} ms = {share:.2%} of an upload")
        record(
            "quota accounting on 4 KiB upload throughput",
            value=f"{cost:+.1%} ({on:.0f} vs {off:.0f} uploads/s)",
            ratio=f"its statements {share:.1%} of an upload",
            goal="< 5 %",
            met=cost < GOAL and share < GOAL,
        )
        admin.http.close()
        limited.http.close()
        free.http.close()


if __name__ == "__main__":
    main()
