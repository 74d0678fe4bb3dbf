"""Prompts, versions and scores end to end through the gateway, on the real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.system import System, User

SCORES = {"clarity": 5, "specificity": 5, "actionability": 5, "structure": 5, "context_use": 5}


def scores(total_fifth: float) -> dict[str, float]:
    return {criterion: total_fifth for criterion in SCORES}


def test_create_prompt_with_versions_and_scores_picks_best_head(alice: User) -> None:
    prompt = alice.create_prompt(
        original_text="Summarise this report",
        agent_type="analyst",
        versions=[
            {"text": "v1", "source": "syntax", "scores": scores(6)},
            {"text": "v2", "source": "structure", "parent_version_no": 1, "scores": scores(9)},
            {"text": "v3", "source": "domain", "parent_version_no": 2},
        ],
    )
    assert [v["version_no"] for v in prompt["versions"]] == [1, 2, 3]
    assert prompt["best_version_no"] == 2
    assert prompt["versions"][1]["scores"]["total"] == 45
    assert prompt["versions"][2]["scores"] is None
    assert prompt["agent_type"] == "analyst"
    fetched = alice.http.get(f"/api/v1/prompts/{prompt['id']}").json()
    assert fetched == prompt


def test_same_request_id_returns_the_same_prompt_with_200(alice: User) -> None:
    first = alice.http.post("/api/v1/prompts", json={"original_text": "x", "request_id": "req-1"})
    # The same body again (another body is 409: tests/prompts/test_request_id_reuse.py).
    again = alice.http.post("/api/v1/prompts", json={"original_text": "x", "request_id": "req-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["original_text"] == "x"


def test_two_users_may_use_the_same_request_id(alice: User, bob: User) -> None:
    a = alice.create_prompt(request_id="shared")
    b = bob.create_prompt(request_id="shared")
    assert a["id"] != b["id"]


def test_equal_totals_keep_the_earliest_version_as_best_head(alice: User) -> None:
    prompt = alice.create_prompt(
        versions=[{"text": "a", "source": "s"}, {"text": "b", "source": "s"}, {"text": "c", "source": "s"}]
    )
    pid = prompt["id"]
    for no in (3, 2):
        reply = alice.http.put(f"/api/v1/prompts/{pid}/versions/{no}/score", json=scores(7))
        assert reply.status_code == 200, reply.text
    assert reply.json()["best_version_no"] == 2
    reply = alice.http.put(f"/api/v1/prompts/{pid}/versions/2/score", json=scores(1))
    assert reply.json()["best_version_no"] == 3, "lowering the best version's score moves the head"


def test_revision_changes_on_every_write(alice: User) -> None:
    prompt = alice.create_prompt()
    pid = prompt["id"]
    revisions = [prompt["revision"]]
    appended = alice.http.post(f"/api/v1/prompts/{pid}/versions", json={"text": "t", "source": "syntax"})
    revisions.append(appended.json()["revision"])
    scored = alice.http.put(f"/api/v1/prompts/{pid}/versions/1/score", json=SCORES)
    revisions.append(scored.json()["revision"])
    revisions.append(alice.http.get(f"/api/v1/prompts/{pid}").json()["revision"])
    assert revisions[0] < revisions[1] < revisions[2] == revisions[3]


def test_fifty_concurrent_appends_get_distinct_numbers(alice: User, system: System) -> None:
    pid = alice.create_prompt()["id"]
    clients = [system.client(alice.id) for _ in range(10)]

    def append(i: int) -> int:
        reply = clients[i % 10].http.post(
            f"/api/v1/prompts/{pid}/versions", json={"text": f"v{i}", "source": "s"}
        )
        assert reply.status_code == 201, reply.text
        return int(reply.json()["version_no"])

    with ThreadPoolExecutor(max_workers=10) as pool:
        numbers = list(pool.map(append, range(50)))
    assert sorted(numbers) == list(range(1, 51))
    assert alice.http.get(f"/api/v1/prompts/{pid}").json()["version_count"] == 50


def test_list_paginates_newest_first_without_overlap(alice: User) -> None:
    ids = [alice.create_prompt(original_text=f"prompt {i}")["id"] for i in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = alice.http.get("/api/v1/prompts", params={"page_size": 2, "page_token": token}).json()
        seen += [p["id"] for p in page["items"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == list(reversed(ids))


def test_list_filters_by_text_and_agent_type(alice: User) -> None:
    alice.create_prompt(original_text="About 100% of cats", agent_type="feline")
    alice.create_prompt(original_text="About dogs", agent_type="canine")
    found = alice.http.get("/api/v1/prompts", params={"q": "100%"}).json()["items"]
    assert [p["original_text"] for p in found] == ["About 100% of cats"]
    found = alice.http.get("/api/v1/prompts", params={"agent_type": "canine"}).json()["items"]
    assert [p["agent_type"] for p in found] == ["canine"]


def test_page_size_over_the_maximum_is_clamped(alice: User) -> None:
    alice.create_prompt()
    assert alice.http.get("/api/v1/prompts", params={"page_size": 5000}).status_code == 200


def test_delete_removes_the_prompt_and_its_feedback(alice: User) -> None:
    prompt = alice.create_prompt(request_id="to-delete", versions=[{"text": "a", "source": "s"}])
    feedback = {"request_id": "to-delete", "user_choice": "multi", "judge_winner": "s", "agent_winner": "s"}
    assert alice.http.post("/api/v1/feedback", json=feedback).status_code == 201
    assert alice.http.delete(f"/api/v1/prompts/{prompt['id']}").status_code == 204
    assert alice.http.get(f"/api/v1/prompts/{prompt['id']}").status_code == 404
    assert alice.http.get("/api/v1/feedback", params={"request_id": "to-delete"}).json()["items"] == []
    assert alice.http.delete(f"/api/v1/prompts/{prompt['id']}").status_code == 404


@pytest.mark.parametrize("verb", ["get", "delete"])
def test_other_users_prompt_is_not_found(alice: User, bob: User, verb: str) -> None:
    prompt = alice.create_prompt()
    reply = getattr(bob.http, verb)(f"/api/v1/prompts/{prompt['id']}")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "NOT_FOUND"
    assert alice.http.get(f"/api/v1/prompts/{prompt['id']}").status_code == 200


def test_other_users_prompt_cannot_be_appended_to_or_scored(alice: User, bob: User) -> None:
    pid = alice.create_prompt(versions=[{"text": "a", "source": "s"}])["id"]
    assert (
        bob.http.post(f"/api/v1/prompts/{pid}/versions", json={"text": "t", "source": "s"}).status_code == 404
    )
    assert bob.http.put(f"/api/v1/prompts/{pid}/versions/1/score", json=SCORES).status_code == 404
    assert bob.http.get("/api/v1/prompts").json()["items"] == []
    assert alice.http.get(f"/api/v1/prompts/{pid}").json()["revision"] == 1


def test_requests_without_a_valid_token_are_401(system: System, alice: User) -> None:
    anonymous = system.anonymous()
    assert anonymous.get("/api/v1/prompts").status_code == 401
    expired = system.token(alice.id, ttl_seconds=-120)
    for headers in (
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Basic {alice.token}"},
        {"Authorization": "Bearer"},
    ):
        reply = anonymous.get("/api/v1/prompts", headers=headers)
        assert reply.status_code == 401, headers
        assert reply.json()["error"]["code"] == "UNAUTHENTICATED"
    assert anonymous.get("/api/v1/prompts", params={"access_token": alice.token}).status_code == 401


def test_identity_headers_from_the_client_are_ignored(alice: User, bob: User) -> None:
    prompt = alice.create_prompt()
    reply = bob.http.get(f"/api/v1/prompts/{prompt['id']}", headers={"X-User-Id": alice.id})
    assert reply.status_code == 404


def test_health_readiness_metrics_and_openapi(system: System) -> None:
    anonymous = system.anonymous()
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz").json()
    assert ready["status"] == "ready" and ready["services"]["prompts"] == "serving"
    assert "depot_gateway_http_requests_total" in anonymous.get("/metrics").text
    spec = anonymous.get("/openapi.json").json()
    assert "/api/v1/prompts" in spec["paths"]
    assert "PromptIn" in spec["components"]["schemas"]


def test_tokens_never_appear_in_log_lines(system: System, alice: User) -> None:
    alice.create_prompt()
    alice.http.get("/api/v1/prompts/not-a-uuid")
    expired = system.token(alice.id, ttl_seconds=-120)
    system.anonymous().get("/api/v1/prompts", headers={"Authorization": f"Bearer {expired}"})
    system.anonymous().get("/api/v1/prompts", params={"token": alice.token})
    logs = system.logs()
    assert logs, "the stack logged nothing at all"
    for token in (alice.token, expired):
        signature = token.rsplit(".", 1)[-1]
        assert signature not in logs
