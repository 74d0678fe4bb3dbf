"""The prompts datasets as their exports show them: typed CSV cells and seed 001's per-agent scores
(issue 12, items 3, 9 and 10)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.exports import readers
from tests.exports.conftest import content, create_session, export_ok, scores
from tests.support.system import System, User

RFC3339_UTC_MICROS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
TIME_COLUMNS = {"timestamp", "created_at", "updated_at"}
BOOL_COLUMNS = {"judge_correct"}
NUMBER_COLUMNS = {
    "syntax_score", "structure_score", "domain_score", "version_no", "parent_version_no",
    "clarity", "specificity", "actionability", "structure", "context_use", "total",
    "wins", "win_rate", "avg_score", "judge_wins", "judge_agreement",
}  # fmt: skip
DATASETS = ("multi-agent", "temporal", "feedback", "effectiveness")


def dataset_csv(user: User, name: str, **options: Any) -> list[dict[str, str]]:
    body = export_ok(user, f"datasets/{name}", "csv", **options)
    return readers.csv_rows(content(user, str(body["id"])).content)


def check_cell_types(dataset: str, rows: list[dict[str, str]]) -> set[str]:
    """Asserts every cell reads back as its column's type; returns the columns that had a value."""
    seen = set()
    for row in rows:
        for column, value in row.items():
            if value == "":
                continue  # null
            seen.add(column)
            where = f"{dataset}.{column} = {value!r}"
            if column in TIME_COLUMNS:
                assert RFC3339_UTC_MICROS.fullmatch(value), f"{where}: not RFC 3339 UTC with six digits"
                assert datetime.fromisoformat(value).tzinfo == UTC, where
            elif column in BOOL_COLUMNS:
                assert value in ("true", "false"), f"{where}: not true/false"
            elif column in NUMBER_COLUMNS:
                assert float(value) == float(value), where  # a number, never NaN
                assert re.fullmatch(r"-?\d+(\.\d+)?(e[+-]?\d+)?", value), f"{where}: not a plain number"
    return seen


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_csv_cells_read_back_as_their_types(alice: User, dataset: str) -> None:
    create_session(alice)
    kept = alice.create_prompt(request_id=f"kept-{uuid.uuid4().hex[:6]}")
    feedback = {"request_id": kept["request_id"], "user_choice": "original", "judge_winner": "syntax"}
    assert alice.http.post("/api/v1/feedback", json={**feedback, "agent_winner": "none"}).status_code == 201
    rows = dataset_csv(alice, dataset)
    assert rows, f"{dataset} is empty"
    seen = check_cell_types(dataset, rows)
    expected = {
        "multi-agent": {"timestamp", "syntax_score", "structure_score", "domain_score"},
        "temporal": {"created_at", "version_no", "parent_version_no", "total"},
        "feedback": {"created_at", "updated_at", "judge_correct"},
        "effectiveness": {"wins", "total", "win_rate", "avg_score"},
    }[dataset]
    assert expected <= seen, f"{dataset}: no value seen in {sorted(expected - seen)}"
    if dataset == "feedback":
        assert sorted(row["judge_correct"] for row in rows) == ["false", "true"]


def test_every_users_dataset_csv_has_the_same_cells(alice: User, system: System) -> None:
    create_session(alice)
    admin = system.client(admin=True)
    try:
        body = export_ok(admin, "datasets/all", "csv", all_users=True)
        members = readers.zip_members(content(admin, str(body["id"])).content)
    finally:
        admin.http.close()
    for dataset in DATASETS:
        check_cell_types(dataset, readers.csv_rows(members[f"{dataset}.csv"]))


def test_csv_times_are_the_times_the_api_reports(alice: User) -> None:
    session = create_session(alice)
    [row] = dataset_csv(alice, "multi-agent")
    api_time = datetime.fromisoformat(session.prompt["created_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(row["timestamp"]) == api_time


def test_multi_agent_scores_come_from_versions_named_after_the_three_agents(alice: User) -> None:
    """Seed 001's syntax/structure/domain columns hold the total of that agent's latest scored
    version: a version counts only when its source is exactly that name (README, Datasets)."""
    named = alice.create_prompt(
        request_id="named",
        versions=[
            {"text": "s1", "source": "syntax", "scores": scores(2)},
            {"text": "s2", "source": "syntax", "scores": scores(4)},  # the latest scored one counts
            {"text": "s3", "source": "syntax"},  # unscored: skipped
            {"text": "d1", "source": "domain", "scores": scores(8)},
        ],
    )
    other = alice.create_prompt(
        request_id="other-names",
        versions=[
            {"text": "a", "source": "Syntax Agent", "scores": scores(9)},
            {"text": "b", "source": "grammar", "scores": scores(7)},
        ],
    )
    rows = {row["request_id"]: row for row in dataset_csv(alice, "multi-agent")}
    assert (
        rows["named"]["syntax_score"],
        rows["named"]["structure_score"],
        rows["named"]["domain_score"],
    ) == (
        "20",
        "",
        "40",
    )
    assert rows["named"]["selected_agent"] == "domain" and named["best_version_no"] == 4
    assert [rows["other-names"][f"{a}_score"] for a in ("syntax", "structure", "domain")] == ["", "", ""]
    assert rows["other-names"]["selected_agent"] == "Syntax Agent" and other["best_version_no"] == 1
    temporal = {(r["request_id"], r["source"]): r["total"] for r in dataset_csv(alice, "temporal")}
    assert temporal[("other-names", "Syntax Agent")] == "45", "other agents' scores are in temporal"
