"""Labels through the gateway on the real PostgreSQL: moves and their history, If-Match, protection,
20 concurrent moves of one label, bad input."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from tests.support.system import System, User


def prompt_with_versions(user: User, count: int = 3) -> str:
    versions = [{"text": f"Version {n} of the text.", "source": "syntax"} for n in range(1, count + 1)]
    return str(user.create_prompt(versions=versions)["id"])


def put_label(user: User, prompt_id: str, label: str, version_no: int, **extra: Any) -> Any:
    headers = extra.pop("headers", {})
    return user.http.put(
        f"/api/v1/prompts/{prompt_id}/labels/{label}",
        json={"version_no": version_no, **extra},
        headers=headers,
    )


def history(user: User, prompt_id: str, label: str) -> list[dict[str, Any]]:
    reply = user.http.get(f"/api/v1/prompts/{prompt_id}/labels/{label}/history", params={"page_size": 1000})
    assert reply.status_code == 200, reply.text
    return reply.json()["items"]  # type: ignore[no-any-return]


def test_a_label_moves_rolls_back_and_its_history_shows_each_move_newest_first(alice: User) -> None:
    prompt_id = prompt_with_versions(alice)
    first = put_label(alice, prompt_id, "production", 1)
    assert first.status_code == 200, first.text
    assert first.json()["version_no"] == 1 and first.json()["updated_by"] == alice.id
    assert put_label(alice, prompt_id, "production", 3).status_code == 200
    rolled = put_label(alice, prompt_id, "production", 1)  # the rollback is a move back
    assert rolled.status_code == 200 and rolled.json()["revision"] > first.json()["revision"]
    moves = history(alice, prompt_id, "production")
    assert [(m["from_version_no"], m["to_version_no"]) for m in moves] == [(3, 1), (1, 3), (None, 1)]
    assert all(m["moved_by"] == alice.id for m in moves)
    labels = alice.http.get(f"/api/v1/prompts/{prompt_id}/labels").json()["items"]
    assert [(x["label"], x["version_no"], x["builtin"]) for x in labels] == [
        ("best", None, True),
        ("latest", 3, True),
        ("production", 1, False),
    ]


def test_history_pages_newest_first(alice: User) -> None:
    prompt_id = prompt_with_versions(alice)
    for version_no in (1, 2, 3, 1, 2):
        assert put_label(alice, prompt_id, "staging", version_no).status_code == 200
    url = f"/api/v1/prompts/{prompt_id}/labels/staging/history"
    first = alice.http.get(url, params={"page_size": 2}).json()
    second = alice.http.get(url, params={"page_size": 2, "page_token": first["next_page_token"]}).json()
    third = alice.http.get(url, params={"page_size": 2, "page_token": second["next_page_token"]}).json()
    seen = [m["to_version_no"] for page in (first, second, third) for m in page["items"]]
    assert seen == [2, 1, 3, 2, 1] and third["next_page_token"] == ""


def test_if_match_on_a_label_that_moved_meanwhile_is_412(alice: User) -> None:
    prompt_id = prompt_with_versions(alice)
    revision = put_label(alice, prompt_id, "production", 1).json()["revision"]
    assert (
        put_label(alice, prompt_id, "production", 2, headers={"If-Match": f'"{revision}"'}).status_code == 200
    )
    stale = put_label(alice, prompt_id, "production", 3, headers={"If-Match": f'"{revision}"'})
    assert stale.status_code == 412, stale.text
    assert "moved" in stale.json()["error"]["message"]
    deleted = alice.http.delete(f"/api/v1/prompts/{prompt_id}/labels/production", headers={"If-Match": "1"})
    assert deleted.status_code == 412


def test_a_deleted_label_keeps_its_history_ending_in_a_move_to_nothing(alice: User) -> None:
    prompt_id = prompt_with_versions(alice)
    put_label(alice, prompt_id, "canary", 2)
    assert alice.http.delete(f"/api/v1/prompts/{prompt_id}/labels/canary").status_code == 204
    assert alice.http.delete(f"/api/v1/prompts/{prompt_id}/labels/canary").status_code == 404
    assert [(m["from_version_no"], m["to_version_no"]) for m in history(alice, prompt_id, "canary")] == [
        (2, None),
        (None, 2),
    ]
    assert alice.http.get(f"/api/v1/prompts/{prompt_id}/versions/canary").status_code == 404


def test_label_names_outside_the_form_and_the_built_ins_are_refused(alice: User) -> None:
    prompt_id = prompt_with_versions(alice)
    for name in ("Production", "1234", "-x", "a" * 64, "prod%20x"):
        reply = put_label(alice, prompt_id, name, 1)
        assert reply.status_code == 400, (name, reply.status_code, reply.text)
    for name in ("best", "latest"):
        assert put_label(alice, prompt_id, name, 1).status_code == 400
        assert alice.http.delete(f"/api/v1/prompts/{prompt_id}/labels/{name}").status_code == 400


def test_a_label_on_another_users_prompt_is_not_found(alice: User, bob: User) -> None:
    prompt_id = prompt_with_versions(alice)
    put_label(alice, prompt_id, "production", 1)
    assert put_label(bob, prompt_id, "production", 2).status_code == 404
    assert bob.http.get(f"/api/v1/prompts/{prompt_id}/labels").status_code == 404
    assert bob.http.get(f"/api/v1/prompts/{prompt_id}/labels/production/history").status_code == 404
    assert bob.http.delete(f"/api/v1/prompts/{prompt_id}/labels/production").status_code == 404
    assert bob.http.get(f"/api/v1/prompts/{prompt_id}/versions/production").status_code == 404


def test_a_label_on_a_version_that_does_not_exist_is_400(alice: User) -> None:
    prompt_id = prompt_with_versions(alice, 2)
    reply = put_label(alice, prompt_id, "production", 3)
    assert reply.status_code == 400, reply.text
    assert "no version" in reply.json()["error"]["message"]


def test_a_protected_label_moves_only_with_role_admin(system: System, alice: User) -> None:
    admin = system.client(alice.id, admin=True)
    prompt_id = prompt_with_versions(alice)
    assert put_label(alice, prompt_id, "production", 1, protected=True).status_code == 403
    assert put_label(admin, prompt_id, "production", 1, protected=True).status_code == 200
    refused = put_label(alice, prompt_id, "production", 2)
    assert refused.status_code == 403, refused.text
    assert alice.http.delete(f"/api/v1/prompts/{prompt_id}/labels/production").status_code == 403
    moved = put_label(admin, prompt_id, "production", 2)
    assert moved.status_code == 200 and moved.json()["protected"] is True
    assert put_label(alice, prompt_id, "staging", 2).status_code == 200  # unprotected ones: anyone owning it


def test_twenty_concurrent_moves_of_one_label_have_one_winner_per_step_and_no_gap(alice: User) -> None:
    prompt_id = prompt_with_versions(alice, 5)
    revision = put_label(alice, prompt_id, "production", 1).json()["revision"]

    def conditional(version_no: int) -> int:
        return put_label(
            alice, prompt_id, "production", version_no, headers={"If-Match": f'"{revision}"'}
        ).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(conditional, [2 + n % 4 for n in range(20)]))
    assert sorted(statuses) == [200] + [412] * 19

    def unconditional(version_no: int) -> int:
        return put_label(alice, prompt_id, "production", version_no).status_code

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(unconditional, [1 + n % 5 for n in range(20)])) == [200] * 20
    moves = list(reversed(history(alice, prompt_id, "production")))
    assert moves[0]["from_version_no"] is None
    for before, after in itertools.pairwise(moves):
        assert after["from_version_no"] == before["to_version_no"], moves
        assert datetime.fromisoformat(after["moved_at"]) >= datetime.fromisoformat(before["moved_at"])
    final = alice.http.get(f"/api/v1/prompts/{prompt_id}/versions/production").json()
    assert final["version_no"] == moves[-1]["to_version_no"]


def test_a_prompt_holds_at_most_100_labels_and_one_more_is_412_until_one_is_deleted(alice: User) -> None:
    prompt_id = prompt_with_versions(alice, count=2)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda n: put_label(alice, prompt_id, f"tenant-{n:03}", 1), range(100)))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies if r.status_code != 200]

    refused = put_label(alice, prompt_id, "one-too-many", 1)
    assert refused.status_code == 412, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["reason"] == "LABEL_LIMIT" and "100 labels" in refused.json()["error"]["message"]
    listed = alice.http.get(f"/api/v1/prompts/{prompt_id}/labels").json()["items"]
    assert len(listed) == 2 + 100 and "one-too-many" not in {x["label"] for x in listed}

    assert put_label(alice, prompt_id, "tenant-000", 2).status_code == 200, "a label it holds still moves"
    assert alice.http.delete(f"/api/v1/prompts/{prompt_id}/labels/tenant-099").status_code == 204
    assert put_label(alice, prompt_id, "one-too-many", 1).status_code == 200
