"""`depot up` keeps its children running: one that exits on its own is started again after a pause.

A cluster restarts a crashed pod; the local default is as forgiving. The pause starts at half a
second and doubles with each exit up to 30 s, and starts over once the child has stayed up for a
minute. A child that exits more than 5 times within one minute is failing for a reason a restart
will not mend (a bad setting, a port taken, a database gone): then `depot up` stops everything and
exits 1. Each exit is one line on stderr naming the process, how it ended and what happens next.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from cli.stack import Stack


@dataclass(frozen=True)
class RestartPolicy:
    """How quickly an exited child is started again, and when to stop trying."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_seconds: float = 60.0  # up this long, a child's next pause starts over at first_delay
    max_exits: int = 5  # more exits than this within `window_seconds` and `depot up` gives up
    window_seconds: float = 60.0


@dataclass
class Restarts:
    """One child's exits: the pause before its next start, or None when it is time to give up."""

    policy: RestartPolicy
    started_at: float = 0.0
    delay: float = 0.0
    exits: deque[float] = field(default_factory=deque)

    def started(self, now: float) -> None:
        self.started_at = now

    def exited(self, now: float) -> float | None:
        """Records an exit at `now`; returns how long to wait before starting the child again."""
        policy = self.policy
        if not self.delay or now - self.started_at >= policy.stable_seconds:
            self.delay = policy.first_delay
        else:
            self.delay = min(self.delay * 2, policy.max_delay)
        self.exits.append(now)
        while self.exits and now - self.exits[0] > policy.window_seconds:
            self.exits.popleft()
        return None if len(self.exits) > policy.max_exits else self.delay


def how_it_ended(code: int) -> str:
    """`code 1`, or `code -9 (SIGKILL)` for a child a signal ended."""
    if code < 0:
        try:
            return f"code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"code {code}"


class Supervisor:
    """Watches a running stack and starts again each child that exits, per the policy."""

    def __init__(
        self,
        stack: Stack,
        policy: RestartPolicy | None = None,
        *,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stack = stack
        self._policy = policy or RestartPolicy()
        self._out = out or sys.stderr
        self._clock = clock
        now = clock()
        self._children = {key: Restarts(self._policy, started_at=now) for key in stack.processes}
        self._due: dict[str, float] = {}  # exited children and when each starts again

    def watch(self, stopping: threading.Event, *, tick: float = 0.25) -> bool:
        """Runs until `stopping` is set (True) or a child exits too often (False)."""
        while not stopping.wait(tick):
            now = self._clock()
            for key in self._stack.exited():
                if key not in self._due and not self._schedule(key, now):
                    return False
            for key, due in list(self._due.items()):
                if due <= now:
                    del self._due[key]
                    self._stack.restart_process(key)
                    self._children[key].started(self._clock())
        return True

    def _schedule(self, key: str, now: float) -> bool:
        code = self._stack.processes[key].returncode
        restarts = self._children.setdefault(key, Restarts(self._policy))
        delay = restarts.exited(now)
        if delay is None:
            self._say(
                f"{key} exited with {how_it_ended(code)}, {len(restarts.exits)} times within "
                f"{self._policy.window_seconds:g} s; giving up"
            )
            return False
        self._say(f"{key} exited with {how_it_ended(code)}; restarting it in {delay:g} s")
        self._due[key] = now + delay
        return True

    def _say(self, line: str) -> None:
        print(f"depot: {line}", file=self._out, flush=True)
