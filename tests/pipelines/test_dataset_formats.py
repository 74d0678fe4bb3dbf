"""Datasets as JSON Lines and Parquet through the gateway: jobs like every dataset export, with a
receipt, cached by revision, read back by `json` and by pyarrow with the types the datasets define."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from tests.exports.conftest import create_session, export, follow
from tests.pipelines.conftest import download, json_lines, parquet_table, zip_members
from tests.support.system import User

TIME = pa.timestamp("us", tz="UTC")
TEMPORAL_TYPES = {
    "prompt_id": pa.string(),
    "request_id": pa.string(),
    "version_no": pa.int64(),
    "parent_version_no": pa.int64(),
    "source": pa.string(),
    "created_at": TIME,
    "text": pa.string(),
    "clarity": pa.float64(),
    "specificity": pa.float64(),
    "actionability": pa.float64(),
    "structure": pa.float64(),
    "context_use": pa.float64(),
    "total": pa.float64(),
}


def test_temporal_parquet_has_the_datasets_types_and_values(alice: User) -> None:
    session = create_session(alice)
    body, data = download(alice, "datasets/temporal", "parquet")
    table = parquet_table(data)
    assert {field.name: field.type for field in table.schema} == TEMPORAL_TYPES
    assert [field.name for field in table.schema] == list(TEMPORAL_TYPES), "the dataset's column order"
    rows = table.to_pylist()
    assert [(r["version_no"], r["parent_version_no"], r["source"], r["total"]) for r in rows] == [
        (1, None, "syntax", 30.0),
        (2, 1, "structure", 45.0),
        (3, 1, "domain", 35.0),
    ]
    assert [r["text"] for r in rows] == [
        f"{agent} {session.marker}" for agent in ("Syntax", "Structure", "Domain")
    ]
    assert {r["prompt_id"] for r in rows} == {session.id}
    assert all(r["request_id"] == session.request_id for r in rows)
    created = [r["created_at"] for r in rows]
    assert all(isinstance(t, datetime) and t.utcoffset().total_seconds() == 0 for t in created)  # type: ignore[union-attr]
    made = datetime.fromisoformat(session.prompt["created_at"].replace("Z", "+00:00"))
    assert all(abs((t - made).total_seconds()) < 60 for t in created)
    assert body["receipt"]["row_count"] == 3
    metadata = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    assert metadata["depot.source"] == "datasets/temporal"
    assert metadata["depot.revision"] == body["receipt"]["source_revision"]
    headers = alice.http.get(f"/api/v1/exports/{body['id']}/content").headers
    assert headers["content-type"] == "application/vnd.apache.parquet"
    assert 'filename="dataset-temporal.parquet"' in headers["content-disposition"]


def test_feedback_and_effectiveness_parquet_keep_booleans_integers_and_doubles(alice: User) -> None:
    create_session(alice)
    _, data = download(alice, "datasets/feedback", "parquet")
    feedback = parquet_table(data)
    assert feedback.schema.field("judge_correct").type == pa.bool_()
    assert feedback.schema.field("created_at").type == TIME
    assert feedback.column("judge_correct").to_pylist() == [True]
    assert feedback.column("agent_winner").to_pylist() == ["structure"]
    _, data = download(alice, "datasets/effectiveness", "parquet")
    effectiveness = parquet_table(data)
    types = {field.name: field.type for field in effectiveness.schema}
    assert types["wins"] == types["total"] == types["judge_wins"] == pa.int64()
    assert types["win_rate"] == types["avg_score"] == types["judge_agreement"] == pa.float64()
    scores = {r["agent"]: r for r in effectiveness.to_pylist() if r["basis"] == "scores"}
    assert scores["structure"]["wins"] == 1 and scores["structure"]["win_rate"] == 1.0
    assert scores["syntax"]["avg_score"] == 30.0 and scores["syntax"]["judge_wins"] is None


def test_temporal_jsonl_is_one_object_per_version_with_numbers_as_numbers(alice: User) -> None:
    session = create_session(alice)
    body, data = download(alice, "datasets/temporal", "jsonl")
    rows = json_lines(data)
    assert [list(r) for r in rows] == [list(TEMPORAL_TYPES)] * 3, "the dataset's columns as keys, in order"
    assert [(r["version_no"], r["parent_version_no"], r["total"], r["clarity"]) for r in rows] == [
        (1, None, 30, 6),
        (2, 1, 45, 9),
        (3, 1, 35, 7),
    ]
    assert all(type(r["total"]) is float and type(r["version_no"]) is int for r in rows)
    assert rows[1]["text"] == f"Structure {session.marker}"
    assert all(datetime.fromisoformat(r["created_at"]).tzinfo == UTC for r in rows)
    assert all(r["created_at"].endswith("Z") and len(r["created_at"]) == 27 for r in rows)
    assert body["receipt"]["row_count"] == 3
    headers = alice.http.get(f"/api/v1/exports/{body['id']}/content").headers
    assert headers["content-type"] == "application/jsonl"
    assert 'filename="dataset-temporal.jsonl"' in headers["content-disposition"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_every_dataset_is_a_zip_of_one_file_per_dataset(alice: User, fmt: str) -> None:
    create_session(alice)
    body, data = download(alice, "datasets/all", fmt)
    members = zip_members(data)
    assert sorted(members) == sorted(
        f"{n}.{fmt}" for n in ("multi-agent", "temporal", "feedback", "effectiveness")
    )
    if fmt == "jsonl":
        counts = {name: len(json_lines(member)) for name, member in members.items()}
    else:
        counts = {name: parquet_table(member).num_rows for name, member in members.items()}
    assert (
        counts[f"temporal.{fmt}"] == 3
        and counts[f"multi-agent.{fmt}"] == 1
        and counts[f"feedback.{fmt}"] == 1
    )
    assert body["receipt"]["row_count"] == sum(counts.values())


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_empty_dataset_is_an_empty_file_that_still_reads(alice: User, fmt: str) -> None:
    _, data = download(alice, "datasets/temporal", fmt)
    if fmt == "jsonl":
        assert data == b""
    else:
        table = parquet_table(data)
        assert table.num_rows == 0 and table.schema.field("total").type == pa.float64()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_dataset_export_is_a_job_cached_by_the_datasets_revision(alice: User, fmt: str) -> None:
    session = create_session(alice)
    accepted = export(alice, "datasets/temporal", fmt)
    assert accepted.status_code == 202, accepted.text  # the job path
    first = follow(alice, accepted)
    assert first["status"] == "completed" and first["receipt"]["row_count"] == 3
    again = export(alice, "datasets/temporal", fmt)
    assert again.status_code == 200 and again.json()["id"] == first["id"], "the same revision is a cache hit"
    reply = alice.http.post(
        f"/api/v1/prompts/{session.id}/versions", json={"text": "Fourth", "source": "syntax"}
    )
    assert reply.status_code in (200, 201), reply.text
    changed = follow(alice, export(alice, "datasets/temporal", fmt))
    assert changed["id"] != first["id"]
    assert changed["receipt"]["source_revision"] != first["receipt"]["source_revision"]
    assert changed["receipt"]["row_count"] == 4


TRICKY_TEXTS = [
    "=1+1",  # a formula: parquet is for programs, so raw, never prefixed with a quote
    "NULL",
    "true",
    'a "quoted", comma\nand a second line\r\nand a third',
    "emoji 🙂, CJK 漢字, RTL שלום",
    " leading and trailing spaces ",
]


def test_parquet_keeps_every_text_exactly_and_nulls_as_nulls(alice: User) -> None:
    prompt = alice.create_prompt(versions=[{"text": text, "source": "syntax"} for text in TRICKY_TEXTS])
    _, data = download(alice, "datasets/temporal", "parquet")
    table = parquet_table(data)
    assert table.column("text").to_pylist() == TRICKY_TEXTS
    assert table.column("request_id").to_pylist() == [None] * len(TRICKY_TEXTS), "no request_id is null"
    assert table.column("total").to_pylist() == [None] * len(TRICKY_TEXTS)
    assert table.column("parent_version_no").null_count == len(TRICKY_TEXTS)
    assert table.column("prompt_id").to_pylist() == [prompt["id"]] * len(TRICKY_TEXTS)
    _, data = download(alice, "datasets/temporal", "jsonl")
    assert [row["text"] for row in json_lines(data)] == TRICKY_TEXTS


def test_the_parquet_writer_takes_typed_rows_too() -> None:
    """The renderer's own path for a report whose rows are values (not CSV): the declared types
    hold even for a column of nulls only, and whole numbers in a double column."""
    from services.exports.rendering.renderers import Report, Table, render

    rows = [["a", None, 3, True, None], ["b", None, 4.5, None, datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)]]
    table = Table(
        "t", ["s", "i", "d", "b", "t"], iter(rows), ["string", "integer", "double", "boolean", "timestamp"]
    )
    data = b"".join(render(Report("r", [("source", "test")], [table]), "parquet"))
    read = parquet_table(data)
    assert [f.type for f in read.schema] == [pa.string(), pa.int64(), pa.float64(), pa.bool_(), TIME]
    assert read.to_pylist()[1] == {
        "s": "b",
        "i": None,
        "d": 4.5,
        "b": None,
        "t": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    }
    assert read.schema.metadata == {b"depot.source": b"test"}


def test_parquet_reads_copys_csv_as_postgresql_writes_it() -> None:
    """COPY's CSV: NULL is an empty unquoted field, an empty text is quoted; times are RFC 3339."""
    from services.exports.rendering.renderers import Report, Table, render

    csv = [b'text,n,t\r\n"",,\n', b',7,2026-01-02T03:04:05.000006Z\n"NULL",-1,\n']
    table = Table("t", ["text", "n", "t"], (), ["string", "integer", "timestamp"], csv=iter(csv))
    read = parquet_table(b"".join(render(Report("r", [], [table]), "parquet")))
    assert read.to_pylist() == [
        {"text": "", "n": None, "t": None},
        {"text": None, "n": 7, "t": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)},
        {"text": "NULL", "n": -1, "t": None},
    ]


def test_a_source_failing_mid_stream_fails_the_rendering_with_its_own_error() -> None:
    """The prompts service going away halfway is its upstream error (mapped to its status), not
    pyarrow's account of a failed read."""
    from services.common.errors import Unavailable
    from services.exports.rendering.renderers import Report, Table, render

    def chunks() -> Iterator[bytes]:
        yield b"n\n" + b"1\n" * 100_000
        raise Unavailable("the prompts service is unavailable")

    for fmt in ("parquet", "jsonl"):
        table = Table("t", ["n"], (), ["integer"], csv=chunks())
        with pytest.raises(Unavailable, match="prompts service"):
            b"".join(render(Report("r", [], [table]), fmt))


def test_the_exports_service_starts_without_importing_pyarrow() -> None:
    code = "import sys, services.exports.server; assert 'pyarrow' not in sys.modules, 'pyarrow at start-up'"
    subprocess.run([sys.executable, "-c", code], check=True)
