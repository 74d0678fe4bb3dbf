"""deploy/README.md documents every setting with its default, so a new setting cannot go unmentioned."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cli.roles import RolesSettings
from tests.deploy.manifests import DEPLOY

ROWS = dict(re.findall(r"^\| `(DEPOT_[A-Z0-9_]+)` \| ([^|]+) \|", (DEPLOY / "README.md").read_text(), re.M))


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default) if default != "" else "(empty)"


@pytest.mark.parametrize("field", sorted(RolesSettings.model_fields))
def test_readme_documents_the_setting_with_its_default(field: str) -> None:
    variable = f"DEPOT_{field.upper()}"
    assert variable in ROWS, f"deploy/README.md has no row for {variable} (services/common/settings.py)"
    default = _shown(RolesSettings.model_fields[field].default)
    assert f"`{default}`" in ROWS[variable], (
        f"{variable}: README says {ROWS[variable].strip()}, default is {default}"
    )
