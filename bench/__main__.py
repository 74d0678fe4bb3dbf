"""`make bench`: every benchmark, or the ones named (`python -m bench prompts files`).

Each prints its figures next to the physical limit it is compared with, measured in the same run.
"""

from __future__ import annotations

import importlib
import sys
import time

SUITES = ("prompts", "files", "exports", "jobs", "renderers", "blob_stores", "tracing", "replicas")


def main() -> None:
    chosen = sys.argv[1:] or list(SUITES)
    for name in chosen:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            print(f"\n## {name}: no benchmark yet")
            continue
        print(f"\n## {name}", flush=True)
        started = time.perf_counter()
        module.main()
        print(f"({name} took {time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
