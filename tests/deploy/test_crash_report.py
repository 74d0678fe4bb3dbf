"""A service that crashes in C code (a segfault in gRPC's or libpq's threads) leaves the stacks of its
Python threads in its log, so the crash can be placed."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.system import System


def test_a_segfault_leaves_the_python_stacks_in_the_services_log(tmp_path: Path) -> None:
    with System.on_own_database(tmp_path) as system:
        process = system.stack.processes.pop("prompts")
        process.send_signal(signal.SIGSEGV)
        assert process.wait(timeout=30) == -signal.SIGSEGV
        log = (tmp_path / "prompts.log").read_text(errors="replace")
    assert "Fatal Python error: Segmentation fault" in log, log[-2000:]
    assert "Current thread" in log or "Thread 0x" in log, log[-2000:]
