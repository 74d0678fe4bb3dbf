"""The fine-tune dataset through the gateway: its filters choose exactly the rows a hand-built
fixture says qualify, in both shapes, and bad options are 400 naming the option.

The fixture (totals are five equal criteria, so 6 each is 30):

  prompt  version: agent (total)                              feedback chose
  A       1 syntax (30), 2 structure (45, best), 3 domain (35)  structure
  B       1 syntax (40, best), 2 domain (unscored), 3 structure (25)  domain
  C       1 syntax (20), 2 domain (50, best)                    (no feedback)
  D       1 structure (35, best)                                none (kept the original)
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.exports.conftest import error_code, export, scores
from tests.pipelines.conftest import download, json_lines
from tests.support.system import User

FIXTURE: dict[str, tuple[list[tuple[str, float | None]], str | None]] = {
    "A": ([("syntax", 6), ("structure", 9), ("domain", 7)], "structure"),
    "B": ([("syntax", 8), ("domain", None), ("structure", 5)], "domain"),
    "C": ([("syntax", 4), ("domain", 10)], None),
    "D": ([("structure", 7)], "none"),
}


def text(prompt: str, version_no: int, marker: str) -> str:
    return f"{prompt}{version_no} {marker}"


@pytest.fixture
def trainer(alice: User) -> tuple[User, str, dict[str, str]]:
    """alice with the fixture's four prompts (created in order A, B, C, D); their ids by letter."""
    marker = uuid.uuid4().hex[:8]
    ids = {}
    for letter, (versions, chosen) in FIXTURE.items():
        request_id = f"ft-{letter}-{marker}"
        body: list[dict[str, Any]] = []
        for number, (agent, each) in enumerate(versions, start=1):
            version: dict[str, Any] = {"text": text(letter, number, marker), "source": agent}
            if each is not None:
                version["scores"] = scores(each)
            body.append(version)
        prompt = alice.create_prompt(
            request_id=request_id, original_text=f"Original {letter} {marker}", versions=body
        )
        ids[letter] = str(prompt["id"])
        if chosen is not None:
            reply = alice.http.post(
                "/api/v1/feedback",
                json={
                    "request_id": request_id,
                    "user_choice": "original" if chosen == "none" else "multi",
                    "judge_winner": "syntax",
                    "agent_winner": chosen,
                },
            )
            assert reply.status_code in (200, 201), reply.text
    return alice, marker, ids


def chat_rows(user: User, **options: Any) -> list[dict[str, Any]]:
    body, data = download(user, "datasets/fine-tune", "jsonl", **options)
    rows = json_lines(data)
    assert body["receipt"]["row_count"] == len(rows)
    return rows


def chosen(rows: list[dict[str, Any]], marker: str) -> list[str]:
    """Each chat row as `<prompt><version_no>`, checked against its messages."""
    names = []
    for row in rows:
        user_turn, assistant_turn = row["messages"]
        assert user_turn["role"] == "user" and assistant_turn["role"] == "assistant"
        name = assistant_turn["content"].removesuffix(f" {marker}")
        assert user_turn["content"] == f"Original {name[0]} {marker}"
        assert str(row["metadata"]["version_no"]) == name[1:]
        names.append(name)
    return names


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "D1"]),
        ({"min_total": 35}, ["A2", "A3", "B1", "C2", "D1"]),
        ({"min_total": 45.5}, ["C2"]),
        ({"preferred_only": True}, ["A2", "B2"]),
        ({"preferred_only": True, "min_total": 1}, ["A2"]),
        ({"best_only": True}, ["A2", "B1", "C2", "D1"]),
        ({"agents": ["domain"]}, ["A3", "B2", "C2"]),
        ({"best_only": True, "min_total": 30, "agents": ["syntax", "structure"]}, ["A2", "B1", "D1"]),
        ({"min_total": 50, "agents": ["syntax"]}, []),
    ],
)
def test_chat_rows_are_exactly_the_versions_every_filter_keeps(
    trainer: tuple[User, str, dict[str, str]], options: dict[str, Any], expected: list[str]
) -> None:
    user, marker, _ = trainer
    assert chosen(chat_rows(user, **options), marker) == expected


def test_a_chat_row_carries_its_metadata(trainer: tuple[User, str, dict[str, str]]) -> None:
    user, marker, ids = trainer
    [row] = chat_rows(user, shape="chat", best_only=True, agents=["structure"], min_total=40)
    assert row == {
        "messages": [
            {"role": "user", "content": f"Original A {marker}"},
            {"role": "assistant", "content": f"A2 {marker}"},
        ],
        "metadata": {"prompt_id": ids["A"], "version_no": 2, "source": "structure", "total": 45.0},
    }
    [unscored] = chat_rows(user, preferred_only=True, agents=["domain"])
    assert unscored["metadata"] == {"prompt_id": ids["B"], "version_no": 2, "source": "domain", "total": None}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, [("A", "A2", "A3"), ("B", "B2", "B1")]),
        ({"min_total": 1}, [("A", "A2", "A3")]),
        ({"best_only": True}, [("A", "A2", "A3")]),
        ({"agents": ["structure", "syntax"]}, [("A", "A2", "A1")]),
        ({"preferred_only": True}, [("A", "A2", "A3"), ("B", "B2", "B1")]),
        ({"min_total": 46}, []),
    ],
)
def test_preference_pairs_choose_the_users_agent_over_the_best_scored_other(
    trainer: tuple[User, str, dict[str, str]], options: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    user, marker, _ = trainer
    rows = chat_rows(user, shape="preference", **options)
    assert all(list(row) == ["prompt", "chosen", "rejected"] for row in rows)
    assert rows == [
        {"prompt": f"Original {p} {marker}", "chosen": f"{c} {marker}", "rejected": f"{r} {marker}"}
        for p, c, r in expected
    ]


def test_equal_filters_share_one_export_and_other_filters_do_not(
    trainer: tuple[User, str, dict[str, str]],
) -> None:
    user, _, _ = trainer
    first, _ = download(user, "datasets/fine-tune", "jsonl", agents=["syntax", "domain"], min_total=30)
    same, _ = download(
        user, "datasets/fine-tune", "jsonl", agents=["domain", "syntax", "domain"], min_total=30.0
    )
    assert same["id"] == first["id"], "agents sorted and once, 30.0 is 30: one cache key"
    assert first["options"]["agents"] == ["domain", "syntax"]
    other, _ = download(user, "datasets/fine-tune", "jsonl", agents=["syntax", "domain"], min_total=31)
    assert other["id"] != first["id"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"min_total": 51}, "options.min_total"),
        ({"min_total": -1}, "options.min_total"),
        ({"min_total": "10"}, "options.min_total"),
        ({"min_total": True}, "options.min_total"),
        ({"shape": "dpo"}, "options.shape"),
        ({"shape": None}, "options.shape"),
        ({"agents": "syntax"}, "options.agents"),
        ({"agents": [1]}, "options.agents"),
        ({"agents": [""]}, "options.agents"),
        ({"agents": ["x"] * 51}, "options.agents"),
        ({"preferred_only": "yes"}, "options.preferred_only"),
        ({"best_only": 1}, "options.best_only"),
        ({"csv_mode": "raw"}, "csv_mode"),
        ({"temperature": 1}, "temperature"),
    ],
)
def test_a_bad_fine_tune_option_is_400_naming_it(alice: User, options: dict[str, Any], named: str) -> None:
    reply = export(alice, "datasets/fine-tune", "jsonl", **options)
    assert reply.status_code == 400, reply.text
    assert error_code(reply) == "INVALID_ARGUMENT"
    assert named in reply.json()["error"]["message"], reply.json()


@pytest.mark.parametrize(
    ("source", "fmt"), [("datasets/fine-tune", "parquet"), ("datasets/fine-tune", "csv")]
)
def test_the_fine_tune_dataset_is_jsonl_only(alice: User, source: str, fmt: str) -> None:
    reply = export(alice, source, fmt)
    assert reply.status_code == 400, reply.text
    assert "jsonl" in reply.json()["error"]["message"]


def test_jsonl_and_parquet_are_for_datasets_only(alice: User) -> None:
    prompt = alice.create_prompt()
    for fmt in ("jsonl", "parquet"):
        reply = export(alice, f"prompts/{prompt['id']}", fmt)
        assert reply.status_code == 400, reply.text
        assert "format" in reply.json()["error"]["message"]


def test_only_an_admin_exports_every_users_training_rows(trainer: tuple[User, str, dict[str, str]]) -> None:
    user, marker, _ = trainer
    reply = export(user, "datasets/fine-tune", "jsonl", all_users=True)
    assert reply.status_code == 403, reply.text
    admin = user.system.client(admin=True)
    rows = chat_rows(admin, all_users=True, best_only=True)
    assert {f"A2 {marker}", f"B1 {marker}", f"C2 {marker}", f"D1 {marker}"} <= {
        row["messages"][1]["content"] for row in rows
    }


def test_every_users_chat_rows_name_their_owner_in_the_metadata(
    trainer: tuple[User, str, dict[str, str]],
) -> None:
    """As every other dataset across users leads with `owner`; one user's own rows have none."""
    user, marker, ids = trainer
    admin = user.system.client(admin=True)
    rows = chat_rows(admin, all_users=True, best_only=True)
    [row] = [r for r in rows if r["messages"][1]["content"] == f"A2 {marker}"]
    assert row["metadata"] == {
        "owner": user.id,
        "prompt_id": ids["A"],
        "version_no": 2,
        "source": "structure",
        "total": 45.0,
    }
    assert all(r["metadata"]["owner"] for r in rows)
    pairs = json_lines(download(admin, "datasets/fine-tune", "jsonl", all_users=True, shape="preference")[1])
    assert pairs and all(set(pair) == {"prompt", "chosen", "rejected"} for pair in pairs)
