"""Generates the Python code for protos/ into gen/, or checks that gen/ is up to date.

One command makes the stubs (`make proto`); CI runs `check`, which generates into a scratch
directory and fails when anything differs from what is committed.
"""

from __future__ import annotations

import filecmp
import os
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GEN = ROOT / "gen"
WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"


def generate(out: Path) -> None:
    """Runs protoc over every .proto file, writing messages, gRPC stubs and type stubs to `out`."""
    # protoc finds the mypy plugins on PATH; they live beside this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{WELL_KNOWN}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for directory in [out / "depot", *(p for p in (out / "depot").rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()


def _tree(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def check() -> int:
    """Returns 0 when gen/ equals a fresh generation, 1 (listing the differences) otherwise."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        generate(fresh)
        want, have = _tree(fresh), _tree(GEN)
        stale = sorted(
            name
            for name in want.keys() | have.keys()
            if name not in want or name not in have or not filecmp.cmp(want[name], have[name], shallow=False)
        )
    if stale:
        print("generated code is stale; run `make proto`:", *stale, sep="\n  ", file=sys.stderr)
        return 1
    print("generated code is up to date")
    return 0


def sync() -> None:
    """Generates into a scratch directory, then writes only what changed into gen/.

    gen/ is never emptied first: a failing protoc leaves it as it was, and a file whose text did not
    change keeps its timestamp, so a running process or another checkout's editor sees no churn.
    """
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        generate(fresh)
        want, have = _tree(fresh), _tree(GEN)
        for name, source in want.items():
            target = GEN / name
            if name not in have or not filecmp.cmp(source, have[name], shallow=False):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
        for name in have.keys() - want.keys():
            have[name].unlink()


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "generate"
    if command == "check":
        raise SystemExit(check())
    sync()


if __name__ == "__main__":
    main()
