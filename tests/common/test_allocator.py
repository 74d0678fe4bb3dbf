"""A serving process keeps freed large buffers for the next ones (cli/allocator.py): a stream of
buffers of 256 KiB to 1 MiB, a few alive at a time as in a download, stops faulting fresh pages in
once the thresholds are set."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Each count in a process of its own: the thresholds are the whole process's, and the test
# process's allocator stays as it was.
STREAM = textwrap.dedent(
    """
    import resource, sys
    from cli.allocator import reuse_large_buffers

    if sys.argv[1] == "set" and not reuse_large_buffers():
        raise SystemExit("mallopt refused")
    window = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(300):  # about 190 MB in all, at most four buffers (4 MiB) alive
        window.append(b"x" * ((256 + (i * 389) % 768) * 1024))
        if len(window) > 3:
            window.pop(0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def page_faults(mode: str) -> int:
    answer = subprocess.run([sys.executable, "-c", STREAM, mode], capture_output=True, text=True, check=True)
    return int(answer.stdout)


def test_freed_large_buffers_are_reused_instead_of_faulted_in_again() -> None:
    default, tuned = page_faults("default"), page_faults("set")
    # glibc's defaults hand buffers back to the kernel and fault them in again, zeroed: about a
    # quarter of the 190 MB. Set, the pages of the few buffers alive at once fault in once.
    assert default > 5_000, default
    assert tuned < 2_000, tuned
