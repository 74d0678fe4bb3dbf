"""Every bad input to the prompts routes is a 400 naming the field, and nothing is half-written."""

from __future__ import annotations

import pytest

from tests.support.system import User

GOOD_SCORES = {"clarity": 1, "specificity": 2, "actionability": 3, "structure": 4, "context_use": 5}


def assert_invalid(reply: object, field: str) -> None:
    status = reply.status_code  # type: ignore[attr-defined]
    body = reply.json()  # type: ignore[attr-defined]
    assert status == 400, f"expected 400, got {status}: {body}"
    assert body["error"]["code"] == "INVALID_ARGUMENT"
    assert field in body["error"]["message"], f"{field!r} not named in {body['error']['message']!r}"


def test_malformed_json_is_400(alice: User) -> None:
    reply = alice.http.post(
        "/api/v1/prompts", content=b'{"original_text": ', headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "original_text"),
        ({"original_text": ""}, "original_text"),
        ({"original_text": 12}, "original_text"),
        ({"original_text": "x" * 100_001}, "original_text"),
        ({"original_text": "x", "versions": "nope"}, "versions"),
        ({"original_text": "x", "versions": [{"text": "t"}]}, "versions.0.source"),
        ({"original_text": "x", "versions": [{"text": "", "source": "s"}]}, "versions.0.text"),
        ({"original_text": "x", "unexpected": 1}, "unexpected"),
        ({"original_text": "x", "request_id": ["a"]}, "request_id"),
    ],
)
def test_invalid_prompt_bodies_are_400_naming_the_field(
    alice: User, body: dict[str, object], field: str
) -> None:
    assert_invalid(alice.http.post("/api/v1/prompts", json=body), field)


@pytest.mark.parametrize(
    ("criterion", "value"), [("clarity", 12), ("structure", -1), ("context_use", "high")]
)
def test_scores_outside_their_range_are_400(alice: User, criterion: str, value: object) -> None:
    pid = alice.create_prompt(versions=[{"text": "a", "source": "s"}])["id"]
    reply = alice.http.put(f"/api/v1/prompts/{pid}/versions/1/score", json={**GOOD_SCORES, criterion: value})
    assert_invalid(reply, criterion)


def test_whitespace_only_text_is_refused_by_the_service(alice: User) -> None:
    assert_invalid(alice.http.post("/api/v1/prompts", json={"original_text": "   "}), "original_text")


def test_a_create_with_an_invalid_version_writes_nothing(alice: User) -> None:
    body = {
        "original_text": "atomic",
        "request_id": "atomic-1",
        "versions": [
            {"text": "ok", "source": "s", "scores": GOOD_SCORES},
            {"text": "bad parent", "source": "s", "parent_version_no": 5},
        ],
    }
    assert_invalid(alice.http.post("/api/v1/prompts", json=body), "parent_version_no")
    assert alice.http.get("/api/v1/prompts").json()["items"] == []


def test_a_parent_that_does_not_exist_yet_is_400_on_append(alice: User) -> None:
    pid = alice.create_prompt()["id"]
    reply = alice.http.post(
        f"/api/v1/prompts/{pid}/versions", json={"text": "t", "source": "s", "parent_version_no": 1}
    )
    assert_invalid(reply, "parent_version_no")


def test_scoring_a_version_that_does_not_exist_is_404(alice: User) -> None:
    pid = alice.create_prompt(versions=[{"text": "a", "source": "s"}])["id"]
    assert alice.http.put(f"/api/v1/prompts/{pid}/versions/2/score", json=GOOD_SCORES).status_code == 404


def test_negative_page_size_is_400(alice: User) -> None:
    assert_invalid(alice.http.get("/api/v1/prompts", params={"page_size": -1}), "page_size")


def test_a_forged_page_token_is_400(alice: User) -> None:
    assert_invalid(alice.http.get("/api/v1/prompts", params={"page_token": "bm90LWEtdG9rZW4"}), "page_token")


def test_a_malformed_prompt_id_is_404(alice: User) -> None:
    assert alice.http.get("/api/v1/prompts/not-a-uuid").status_code == 404


def test_an_oversized_body_is_413_and_stores_nothing(alice: User) -> None:
    reply = alice.http.post("/api/v1/prompts", json={"original_text": "x" * (2 * 1024 * 1024)})
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert alice.http.get("/api/v1/prompts").json()["items"] == []


def test_unknown_route_is_404_with_the_error_body(alice: User) -> None:
    reply = alice.http.get("/api/v1/nothing-here")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "NOT_FOUND"


def test_version_number_beyond_int32_is_400_not_500(alice: User) -> None:
    pid = alice.create_prompt()["id"]
    reply = alice.http.put(f"/api/v1/prompts/{pid}/versions/{2**40}/score", json=GOOD_SCORES)
    assert_invalid(reply, "version_no")


@pytest.mark.parametrize("value", ["0.0", "5.0", "1e3", "+5", " 5"])
def test_a_page_size_not_written_in_digits_is_400(alice: User, value: str) -> None:
    assert_invalid(alice.http.get("/api/v1/security-scans", params={"page_size": value}), "page_size")
    assert_invalid(alice.http.get("/api/v1/prompts", params={"page_size": value}), "page_size")


def test_a_version_number_not_written_in_digits_is_400(alice: User) -> None:
    prompt = alice.create_prompt(versions=[{"text": "v1", "source": "syntax"}])
    reply = alice.http.put(f"/api/v1/prompts/{prompt['id']}/versions/1.0/score", json=GOOD_SCORES)
    assert_invalid(reply, "version_no")
