"""Every `depot serve` target the manifests run starts, answers health, and stops cleanly on SIGTERM.

Targets are read from the rendered overlays and compose.yaml, so a manifest naming a service whose
code does not exist fails here instead of in a cluster.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from cli.stack import stack_environment
from tests.deploy.manifests import DEPLOY, targets_of
from tests.deploy.processes import free_ports, serving
from tests.support.system import Database

ROOT = DEPLOY.parent
SERVE_TARGETS = targets_of("serve")
MIGRATE_TARGETS = targets_of("migrate")


def test_the_manifests_serve_every_service_and_the_gateway() -> None:
    assert sorted(["prompts", "files", "exports", "gateway"]) == SERVE_TARGETS, SERVE_TARGETS


@pytest.mark.parametrize("target", SERVE_TARGETS)
def test_serve_target_starts_answers_health_and_exits_0_on_sigterm(
    target: str, database: Database, tmp_path: Path
) -> None:
    if target != "gateway":
        assert (ROOT / "services" / target / "server.py").exists(), (
            f"the manifests run `depot serve {target}`, but services/{target}/server.py does not exist"
        )
    env = stack_environment(
        DEPOT_DATABASE_URL=database.url,
        DEPOT_JWT_SECRET=secrets.token_urlsafe(32),
        DEPOT_SERVICE_SECRET=secrets.token_urlsafe(32),
        DEPOT_DATA_DIR=str(tmp_path / "data"),
        DEPOT_GRACE_PERIOD_SECONDS="2",
        **free_ports(),
    )
    with serving(["serve", target], env, tmp_path / f"{target}.log") as served:
        served.wait_healthy()
        # The compose healthcheck runs this same script inside the container.
        probe = subprocess.run(
            [sys.executable, str(DEPLOY / "healthcheck.py"), target], env=env, capture_output=True, text=True
        )
        assert probe.returncode == 0, f"deploy/healthcheck.py {target}: {probe.stdout}{probe.stderr}"
        if target != "gateway":  # the manifests set DEPOT_METRICS_PORT and scrape it
            metrics_url = f"http://127.0.0.1:{env['DEPOT_METRICS_PORT']}/metrics"
            with urllib.request.urlopen(metrics_url, timeout=5) as reply:
                assert reply.status == 200
        code = served.terminate()
        assert code == 0, (
            f"`depot serve {target}` exited with {code} after SIGTERM; output:\n{served.output()}"
        )


@pytest.mark.parametrize("target", MIGRATE_TARGETS)
def test_migrate_target_has_a_migration_history(target: str) -> None:
    assert (ROOT / "migrations" / target / "env.py").exists(), (
        f"the manifests run `depot migrate {target}`, but migrations/{target}/env.py does not exist"
    )


def test_healthcheck_reports_unhealthy_when_nothing_listens() -> None:
    env = stack_environment(**free_ports())
    for target in ("prompts", "gateway"):
        probe = subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py"), target], env=env)
        assert probe.returncode == 1, (
            f"healthcheck.py {target} answered {probe.returncode} with nothing listening"
        )
