"""`make bench`: the suites behind the figures Depot is held to, or the ones named
(`python -m bench prompts files`, `python -m bench all` for every suite).

Each prints its figures next to the physical limit it is compared with, measured in the same run;
the figures with a goal are printed again at the end as one table.
"""

from __future__ import annotations

import importlib
import sys
import time

from bench.figures import FIGURES, table

SUITES = (
    "prompts",
    "downloads",
    "exports",
    "files",
    "jobs",
    "renderers",
    "blob_stores",
    "tracing",
    "replicas",
    "events",
    "quota",
    "pipelines",
    "takeout",
    "webhooks",
)
# The default run: the suites of the figures table (about ten minutes on two cores).
FIGURE_SUITES = ("prompts", "downloads", "exports", "events", "quota", "pipelines", "takeout", "webhooks")


def main() -> None:
    chosen = sys.argv[1:] or list(FIGURE_SUITES)
    if chosen == ["all"]:
        chosen = list(SUITES)
    started_run = time.perf_counter()
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
    if FIGURES:
        print(f"\n## figures ({', '.join(chosen)} in {time.perf_counter() - started_run:.0f} s)\n")
        print(table(FIGURES), flush=True)


if __name__ == "__main__":
    main()
