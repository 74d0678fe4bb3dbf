"""README's worked examples, run as written (bash) against a fresh `depot up`, and `depot token` beside it.

`depot up` runs here as `make run` runs it: its own embedded PostgreSQL in a new data directory and no
secret set, only on free ports. The examples' addresses are moved to those ports and their files to
the test's directory; nothing else in them changes, so an example that no longer works fails here.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cli.development import SECRET_FILE
from services.common.settings import DEVELOPMENT_JWT_SECRET
from tests.support.system import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPOT = Path(sys.executable).parent / "depot"
# The ports README's examples name, by the setting that moves them.
README_PORTS = {
    "DEPOT_HTTP_PORT": 8080,
    "DEPOT_PROMPTS_PORT": 50051,
    "DEPOT_FILES_PORT": 50052,
    "DEPOT_EXPORTS_PORT": 50053,
}


def readme_examples() -> list[str]:
    """The `sh` blocks of README's "Worked examples" section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Worked examples\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.S | re.M)


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any DEPOT_* setting (as on a fresh machine), plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOT_")}
    return {**env, "PATH": f"{DEPOT.parent}{os.pathsep}{env.get('PATH', '')}", **settings}


@dataclass
class Up:
    """A running `depot up`: its environment (data directory and ports) and what it printed."""

    env: dict[str, str]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['DEPOT_HTTP_PORT']}"

    def token(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`depot token ARGS` with the environment of `make run`'s shell (the same data directory)."""
        command = [str(DEPOT), "token", *args]
        return subprocess.run(command, env={**self.env, **env}, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def depot_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    directory = tmp_path_factory.mktemp("depot-up")
    ports = {variable: str(free_port()) for variable in README_PORTS}
    env = clean_environment(DEPOT_DATA_DIR=str(directory / "data"), DEPOT_GRACE_PERIOD_SECONDS="2", **ports)
    log = directory / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(DEPOT), "up"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    try:
        deadline = time.monotonic() + 180
        while "Depot is running" not in log.read_text(errors="replace"):
            assert process.poll() is None, f"depot up exited {process.returncode}:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, (
                f"depot up not running after 180 s:\n{log.read_text()[-4000:]}"
            )
            time.sleep(0.2)
        yield Up(env, log)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as in `make run`
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_depot_up_lists_every_grpc_port_and_the_token_command(depot_up: Up) -> None:
    printed = depot_up.log.read_text()
    for variable in ("DEPOT_PROMPTS_PORT", "DEPOT_FILES_PORT", "DEPOT_EXPORTS_PORT"):
        assert f"127.0.0.1:{depot_up.env[variable]}" in printed, variable
    assert ".venv/bin/grpcurl -plaintext" in printed and "depot token --user NAME [--admin]" in printed


def test_depot_token_mints_any_users_token_beside_the_data_directory_of_depot_up(depot_up: Up) -> None:
    mallory, admin = (
        depot_up.token("--user", user, *flags) for user, *flags in (["mallory"], ["ops", "--admin"])
    )
    assert (mallory.returncode, admin.returncode) == (0, 0), mallory.stderr + admin.stderr
    mallory, admin = mallory.stdout.strip(), admin.stdout.strip()
    assert claims(mallory)["sub"] == "mallory" and "roles" not in claims(mallory)
    assert claims(admin)["roles"] == ["admin"]
    with httpx.Client(base_url=depot_up.url, timeout=60) as http:
        reply = http.get("/api/v1/prompts", headers={"Authorization": f"Bearer {mallory}"})
        assert reply.status_code == 200, reply.text
        stats = http.get("/api/v1/exports/stats", headers={"Authorization": f"Bearer {admin}"})
        assert stats.status_code == 200 and stats.json()["scope"] == "all_users", stats.text
    secret = Path(depot_up.env["DEPOT_DATA_DIR"]) / SECRET_FILE
    assert secret.stat().st_mode & 0o077 == 0  # the owner's only


@pytest.mark.parametrize(
    "setting",
    [{"DEPOT_JWT_SECRET": DEVELOPMENT_JWT_SECRET}, {}],
    ids=["development-secret-outside-development", "no-secret-and-no-data-directory"],
)
def test_depot_token_refuses_with_one_line_and_no_traceback(tmp_path: Path, setting: dict[str, str]) -> None:
    env = clean_environment(DEPOT_DATA_DIR=str(tmp_path / "not-made-by-depot-up"), **setting)
    refused = subprocess.run([str(DEPOT), "token", "--user", "x"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("depot token: ") and refused.stderr.count("\n") == 1, refused.stderr
    assert "Traceback" not in refused.stderr


def test_readme_examples_run_as_written_against_depot_up(depot_up: Up, tmp_path: Path) -> None:
    blocks = readme_examples()
    assert len(blocks) >= 7, "README's Worked examples section lost its sh blocks"
    script = "\n".join(blocks)
    for variable, port in README_PORTS.items():
        script = script.replace(f"127.0.0.1:{port}", f"127.0.0.1:{depot_up.env[variable]}")
    script = script.replace("/tmp/", f"{tmp_path}/")
    ran = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        env=depot_up.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    transcript = f"stdout:\n{ran.stdout[-3000:]}\nstderr:\n{ran.stderr[-3000:]}"
    assert ran.returncode == 0, transcript
    assert '{"error":' not in ran.stdout.replace(" ", ""), transcript  # no error body
    assert re.search(r"\b404\n", ran.stdout), transcript  # mallory does not see alice's prompt
    assert '"scope":"all_users"' in ran.stdout.replace(" ", ""), transcript
    assert "depot.prompts.v1.PromptsService" in ran.stdout, transcript
    notes = (tmp_path / "notes.txt").read_bytes()
    assert (tmp_path / "notes-downloaded.txt").read_bytes() == notes == b"Q3 notes\nrevenue up 4 %\n"
    assert (tmp_path / "session.md").read_bytes().startswith(b"# ")
    assert (tmp_path / "shared.md").read_bytes() == (tmp_path / "session.md").read_bytes()
    assert (tmp_path / "temporal.csv").read_text().startswith("prompt_id,request_id,version_no")

    alice = depot_up.token("--user", "alice").stdout.strip()
    with httpx.Client(
        base_url=depot_up.url, headers={"Authorization": f"Bearer {alice}"}, timeout=60
    ) as http:
        [prompt] = http.get("/api/v1/prompts").json()["items"]
        assert (prompt["version_count"], prompt["best_version_no"]) == (3, 3), prompt
        [feedback] = http.get("/api/v1/feedback").json()["items"]
        assert feedback["judge_correct"] is True
        files = {f["filename"]: f["size_bytes"] for f in http.get("/api/v1/chats/c1/files").json()["items"]}
        assert files == {"notes.txt": len(notes), "copy.txt": len(notes)}
