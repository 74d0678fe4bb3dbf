"""The `depot` commands the deployment runs: read from the rendered overlays and compose.yaml."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
if str(DEPLOY) not in sys.path:
    sys.path.append(str(DEPLOY))

import check  # noqa: E402  (deploy/check.py)
import manifest_rules  # noqa: E402  (deploy/manifest_rules.py)

__all__ = ["DEPLOY", "check", "depot_commands", "manifest_rules", "targets_of"]


@cache
def depot_commands() -> tuple[tuple[str, ...], ...]:
    """Every distinct `depot` argument list of every overlay's pods and every compose service."""
    commands: set[tuple[str, ...]] = set()
    for overlay in check.OVERLAYS:
        for _, spec in manifest_rules.pod_templates(check.render(overlay)):
            for container in spec["containers"]:
                args = manifest_rules.command_of(container)
                if args:
                    commands.add(tuple(args))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in compose["services"].values():
        if "build" in service:
            command = service.get("command", manifest_rules.DEFAULT_COMMAND)
            commands.add(tuple(command))
    return tuple(sorted(commands))


def targets_of(verb: str) -> list[str]:
    """The targets the manifests name after `depot <verb>` (serve, migrate)."""
    return sorted({name for command in depot_commands() if command[0] == verb for name in command[1:]})
