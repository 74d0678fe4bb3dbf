"""DatasetWindowsService over gRPC: only the caller's rows whose change time falls in the window, a
rescored version moving to the window of its new score, aggregates and empty windows refused."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest

from depot.prompts.v1 import dataset_windows_pb2 as wpb
from depot.prompts.v1 import dataset_windows_pb2_grpc
from depot.prompts.v1 import prompts_pb2 as pb
from tests.schedules.support import give_feedback, hour_now, set_feedback_time
from tests.support.system import Database, System, User

SCORES = dict.fromkeys(("clarity", "specificity", "actionability", "structure", "context_use"), 5)


def stream(
    system: System, user: User, dataset: int, encoding: int, since: datetime, before: datetime
) -> list[Any]:
    request = wpb.StreamDatasetWindowRequest(
        datasets=pb.StreamDatasetsRequest(datasets=[dataset], encoding=encoding, csv_mode=pb.CSV_MODE_RAW)
    )
    request.changed_since.FromDatetime(since)
    request.changed_before.FromDatetime(before)
    with system.channel("prompts") as channel:
        stub = dataset_windows_pb2_grpc.DatasetWindowsServiceStub(channel)
        return [m.part for m in stub.StreamDatasetWindow(request, metadata=user.metadata, timeout=30)]


def temporal_rows(parts: list[Any]) -> list[tuple[str, int]]:
    columns = list(parts[0].header.datasets[0].columns)
    request_id, version_no = columns.index("request_id"), columns.index("version_no")
    return sorted(
        (row.cells[request_id].string_value, row.cells[version_no].int_value)
        for part in parts[1:]
        for row in part.rows.rows
    )


def test_a_window_holds_the_rows_changed_within_it(
    system: System, alice: User, bob: User, database: Database
) -> None:
    hour = hour_now(database.url)
    prompt = alice.create_prompt(
        request_id="req-windowed",
        versions=[{"text": "one", "source": "single", "scores": SCORES}, {"text": "two", "source": "multi"}],
    )
    bob.create_prompt(request_id="req-windowed", versions=[{"text": "bob's", "source": "single"}])
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE prompts.versions SET created_at = %s WHERE prompt_id = %s",
            (hour - timedelta(hours=2), prompt["id"]),
        )
        conn.execute(
            "UPDATE prompts.scores SET updated_at = %s WHERE prompt_id = %s",
            (hour - timedelta(hours=2), prompt["id"]),
        )
    # Version 2 is scored now: its change time moves to this hour (or the next, should it turn meanwhile).
    scored = alice.http.put(f"/api/v1/prompts/{prompt['id']}/versions/2/score", json=SCORES)
    assert scored.status_code == 200, scored.text
    earlier = stream(
        system, alice, pb.DATASET_TEMPORAL, pb.DATASET_ENCODING_ROWS, hour - timedelta(hours=3), hour
    )
    now = stream(
        system, alice, pb.DATASET_TEMPORAL, pb.DATASET_ENCODING_ROWS, hour, hour + timedelta(hours=2)
    )
    assert temporal_rows(earlier) == [("req-windowed", 1)]
    assert temporal_rows(now) == [("req-windowed", 2)]

    give_feedback(alice, "req-fed")
    set_feedback_time(database.url, owner=alice.id, request_id="req-fed", at=hour - timedelta(minutes=30))
    inside = stream(
        system, alice, pb.DATASET_FEEDBACK, pb.DATASET_ENCODING_CSV, hour - timedelta(hours=1), hour
    )
    text = b"".join(part.chunk for part in inside[1:]).decode()
    assert [row["request_id"] for row in csv.DictReader(io.StringIO(text))] == ["req-fed"]
    outside = stream(
        system, alice, pb.DATASET_FEEDBACK, pb.DATASET_ENCODING_CSV, hour, hour + timedelta(hours=1)
    )
    assert [row for row in csv.DictReader(io.StringIO(b"".join(p.chunk for p in outside[1:]).decode()))] == []


@pytest.mark.parametrize(
    ("dataset", "hours", "says"),
    [(pb.DATASET_EFFECTIVENESS, 1, "has no change time per row"), (pb.DATASET_FEEDBACK, 0, "must be before")],
)
def test_aggregates_and_empty_windows_are_invalid(
    system: System, alice: User, database: Database, dataset: int, hours: int, says: str
) -> None:
    hour = hour_now(database.url)
    with pytest.raises(grpc.RpcError) as raised:
        stream(system, alice, dataset, pb.DATASET_ENCODING_ROWS, hour, hour + timedelta(hours=hours))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
    assert says in raised.value.details()
