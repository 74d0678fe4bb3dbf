"""What the image installs: pyproject's runtime dependencies, pinned by requirements.lock.

    python deploy/runtime_requirements.py OUT_DIR

writes OUT_DIR/runtime.txt (the [project] dependencies, no dev tools) and OUT_DIR/constraints.txt
(every pin of the lock). Lock lines that point at a local wheel (`name @ file:///…/name-1.0-….whl`)
become `name==1.0`, the same release from the package index, since no local path exists in a
build. Standard library only: it runs in the bare base image (deploy/Dockerfile) and in the
checks (deploy/check.py).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LOCAL_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)\s*@\s*file://\S*/(?P<file>[^/#\s]+\.whl)")


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The [project] dependencies, as written (extras included)."""
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def constraints(lock: Path = ROOT / "requirements.lock") -> list[str]:
    """The lock's pins, local wheels turned into index pins."""
    pins = []
    for raw in lock.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := _LOCAL_WHEEL.match(line):
            # A wheel file is named {distribution}-{version}-…; its version never holds a '-'.
            version = match["file"].split("-")[1]
            line = f"{match['name']}=={version}"
        elif " @ " in line and "file://" in line:
            raise ValueError(f"requirements.lock points at a local file that is not a wheel: {line}")
        pins.append(line)
    return pins


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "runtime.txt").write_text("\n".join(runtime_dependencies()) + "\n")
    (out / "constraints.txt").write_text("\n".join(constraints()) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
