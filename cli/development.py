"""The secret `depot up` signs development tokens with, left in its data directory for `depot token`.

`depot up` with no DEPOT_JWT_SECRET runs in development mode with the development secret; it writes
that secret into DEPOT_DATA_DIR (readable by its owner only), so `depot token --user NAME` run beside
the same data directory mints tokens the running system accepts, with nothing to export. A run with
a secret of its own removes the file, so a stale one never mints tokens the system refuses.
"""

from __future__ import annotations

import os
from pathlib import Path

from services.common.settings import DEVELOPMENT_JWT_SECRET

SECRET_FILE = "development-jwt-secret"


def remember(data_dir: Path, env: dict[str, str]) -> None:
    """Writes the development secret into the data directory when this run uses it, else removes it."""
    path = data_dir / SECRET_FILE
    if env.get("DEPOT_EMBEDDED") == "1" and env.get("DEPOT_JWT_SECRET") == DEVELOPMENT_JWT_SECRET:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(DEVELOPMENT_JWT_SECRET)
    else:
        path.unlink(missing_ok=True)


def recall(data_dir: Path) -> str:
    """The development secret `depot up` left in the data directory; empty when it left none."""
    try:
        return (data_dir / SECRET_FILE).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return ""
