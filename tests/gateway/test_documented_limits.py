"""The bounds /openapi.json states are the ones the services enforce: both read services/common/limits.py,
so a client generator's maxLength/minimum/maximum and the service's refusal name the same number."""

from __future__ import annotations

from typing import Any

from services.common import limits
from tests.support.system import User


def _properties(schema: dict[str, Any], model: str) -> dict[str, Any]:
    return schema["components"]["schemas"][model]["properties"]  # type: ignore[no-any-return]


def _string(prop: dict[str, Any]) -> dict[str, Any]:
    """The string branch of an optional field (`anyOf: [string, null]`), or the field itself."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") == "string":
            return branch  # type: ignore[no-any-return]
    raise AssertionError(f"no string in {prop}")


def test_the_schema_states_the_bounds_the_services_enforce(alice: User) -> None:
    schema = alice.http.get("/openapi.json").json()
    prompt, version = _properties(schema, "PromptIn"), _properties(schema, "NewVersionIn")
    assert prompt["original_text"]["maxLength"] == limits.MAX_TEXT_CHARS
    assert _string(prompt["request_id"])["maxLength"] == limits.MAX_NAME_CHARS
    assert prompt["versions"]["maxItems"] == limits.MAX_VERSIONS_PER_CREATE
    assert version["text"]["maxLength"] == limits.MAX_TEXT_CHARS
    assert version["source"]["maxLength"] == limits.MAX_NAME_CHARS
    clarity = _properties(schema, "ScoresIn")["clarity"]
    assert (clarity["minimum"], clarity["maximum"]) == (limits.SCORE_MIN, limits.SCORE_MAX)
    risk = _properties(schema, "SecurityScanIn")["risk_score"]
    assert (risk["minimum"], risk["maximum"]) == (limits.RISK_MIN, limits.RISK_MAX)
    assert _properties(schema, "ExportIn")["source"]["maxLength"] == limits.MAX_SOURCE_CHARS
    link = _properties(schema, "LinkIn")["expires_in"]
    assert (link["default"], link["maximum"]) == (
        limits.SHARE_LINK_DEFAULT_SECONDS,
        limits.SHARE_LINK_MAX_SECONDS,
    )


def test_a_value_one_past_a_bound_is_refused_naming_the_field(alice: User) -> None:
    too_long = alice.http.post("/api/v1/prompts", json={"original_text": "x" * (limits.MAX_TEXT_CHARS + 1)})
    assert too_long.status_code == 400, too_long.text
    assert too_long.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert "original_text" in too_long.text
    at_bound = alice.http.post("/api/v1/prompts", json={"original_text": "x" * limits.MAX_TEXT_CHARS})
    assert at_bound.status_code == 201, at_bound.text
    risky = alice.http.post(
        "/api/v1/security-scans",
        json={"input_text": "x", "risk_score": limits.RISK_MAX + 0.5, "label": "safe"},
    )
    assert risky.status_code == 400, risky.text
    assert "risk_score" in risky.text


def test_a_files_type_label_is_documented_and_refused_at_the_services_bound(alice: User) -> None:
    schema = alice.http.get("/openapi.json").json()
    upload = schema["paths"]["/api/v1/chats/{chat_id}/files/{filename}"]["put"]
    [file_type] = [p for p in upload["parameters"] if p["name"] == "file_type"]
    assert file_type["schema"]["maxLength"] == limits.MAX_FILE_TYPE_CHARS
    url = "/api/v1/chats/limits/files/notes.txt"
    at_bound = alice.http.put(url, params={"file_type": "t" * limits.MAX_FILE_TYPE_CHARS}, content=b"n")
    assert at_bound.status_code in (200, 201), at_bound.text
    assert at_bound.json()["file_type"] == "t" * limits.MAX_FILE_TYPE_CHARS
    past = alice.http.put(url, params={"file_type": "t" * (limits.MAX_FILE_TYPE_CHARS + 1)}, content=b"m")
    assert past.status_code == 400, past.text
    assert "file_type" in past.text
    assert alice.http.get(url).content == b"n"  # the refused upload replaced nothing
