"""`datasets/all` is read in one snapshot: an export taken while a user writes never holds feedback
on a prompt, or a score, that the rest of the same file lacks (issue 12, item 4)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import grpc
import pytest

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.exports import readers
from tests.exports.conftest import content, export_ok, scores
from tests.support.system import System, User


class Writer(threading.Thread):
    """Writes as fast as it can: a prompt with versions, a score, feedback on it; again."""

    def __init__(self, system: System, user_id: str, name: str) -> None:
        super().__init__(daemon=True)
        self.user = system.client(user_id)
        self.prefix = name
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                request_id = f"{self.prefix}-{self.written}"
                prompt = self.user.create_prompt(
                    request_id=request_id,
                    versions=[{"text": "w1", "source": "syntax"}, {"text": "w2", "source": "domain"}],
                )
                scored = self.user.http.put(
                    f"/api/v1/prompts/{prompt['id']}/versions/2/score", json=scores(6)
                )
                assert scored.status_code == 200, scored.text
                reply = self.user.http.post(
                    "/api/v1/feedback",
                    json={
                        "request_id": request_id,
                        "user_choice": "multi",
                        "judge_winner": "domain",
                        "agent_winner": "domain",
                    },
                )
                assert reply.status_code == 201, reply.text
                self.written += 1
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.user.http.close()


def seed_prompts(system: System, user: User, count: int) -> None:
    """Enough rows that reading the datasets takes a while (the window the writers aim at)."""
    versions = [
        {"text": f"version {i} " + "x" * 200, "source": "structure", "scores": scores(5)} for i in range(8)
    ]
    clients = [system.client(user.id) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            list(
                pool.map(
                    lambda i: clients[i % len(clients)].create_prompt(
                        request_id=f"seed-{i}", versions=versions
                    ),
                    range(count),
                )
            )
    finally:
        for client in clients:
            client.http.close()


def test_all_datasets_are_one_snapshot_while_writes_go_on(alice: User, system: System) -> None:
    seed_prompts(system, alice, 300)
    writers = [Writer(system, alice.id, f"w{i}") for i in range(2)]
    for writer in writers:
        writer.start()
    try:
        documents = []
        for _ in range(4):
            body = export_ok(alice, "datasets/all", "json")
            documents.append((body, readers.json_document(content(alice, str(body["id"])).content)))
    finally:
        for writer in writers:
            writer.stop.set()
        for writer in writers:
            writer.join(timeout=30)
    assert all(w.error is None for w in writers), [repr(w.error) for w in writers]
    assert sum(w.written for w in writers) > 20, "the writers hardly wrote: nothing was tested"
    for body, document in documents:
        prompts = {row["request_id"] for row in document["multi-agent"]}
        versions = {row["prompt_id"] for row in document["temporal"]}
        orphans = [
            row["request_id"]
            for row in document["feedback"]
            if row["request_id"] not in prompts or row["prompt_id"] not in versions
        ]
        assert not orphans, f"feedback on prompts missing from the same file: {orphans[:5]} ({len(orphans)})"
        scored = {r["request_id"] for r in document["multi-agent"] if r["domain_score"] is not None}
        assert {r["request_id"] for r in document["feedback"]} <= scored, (
            "a score is missing from the snapshot"
        )
        # The file and its receipt name the one snapshot every dataset was read in.
        in_file, in_receipt = document["fields"]["snapshot_time"], body["receipt"]["snapshot_time"]
        assert datetime.fromisoformat(in_file) == datetime.fromisoformat(in_receipt), (in_file, in_receipt)


# The stream itself, over gRPC --------------------------------------------------------------------


def stream(system: System, user: User, **request: Any) -> list[Any]:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    return list(stub.StreamDatasets(pb.StreamDatasetsRequest(**request), metadata=user.metadata, timeout=30))


def test_stream_datasets_sends_one_header_then_each_datasets_parts_in_order(
    alice: User, system: System
) -> None:
    alice.create_prompt(
        request_id="s-1", versions=[{"text": "=1+1", "source": "syntax", "scores": scores(5)}]
    )
    asked = [pb.DATASET_TEMPORAL, pb.DATASET_EFFECTIVENESS, pb.DATASET_MULTI_AGENT]
    parts = stream(system, alice, datasets=asked, encoding=pb.DATASET_ENCODING_ROWS)
    header = parts[0].header
    assert [d.dataset for d in header.datasets] == asked and header.revision.startswith("u")
    assert list(header.datasets[0].columns)[:3] == ["prompt_id", "request_id", "version_no"]
    tags = [p.dataset for p in parts[1:]]
    assert tags == sorted(tags, key=asked.index) and set(tags) == set(asked), tags
    assert all(p.WhichOneof("part") == "rows" for p in parts[1:])
    csv = stream(system, alice, datasets=asked, encoding=pb.DATASET_ENCODING_CSV)
    files = {d: b"".join(p.chunk for p in csv[1:] if p.dataset == d).decode() for d in asked}
    assert (
        files[pb.DATASET_TEMPORAL].startswith("prompt_id,request_id,")
        and "'=1+1" in files[pb.DATASET_TEMPORAL]
    )
    assert files[pb.DATASET_MULTI_AGENT].startswith("request_id,timestamp,")
    assert files[pb.DATASET_EFFECTIVENESS].startswith("basis,agent,")


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"datasets": [], "encoding": pb.DATASET_ENCODING_ROWS}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {"datasets": [pb.DATASET_TEMPORAL] * 2, "encoding": pb.DATASET_ENCODING_ROWS},
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            {"datasets": [pb.DATASET_UNSPECIFIED], "encoding": pb.DATASET_ENCODING_ROWS},
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ({"datasets": [pb.DATASET_TEMPORAL]}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {"datasets": [pb.DATASET_TEMPORAL], "encoding": pb.DATASET_ENCODING_ROWS, "all_users": True},
            grpc.StatusCode.PERMISSION_DENIED,
        ),
    ],
    ids=["none", "twice", "unspecified", "no_encoding", "all_users_without_admin"],
)
def test_stream_datasets_refuses_bad_requests(
    alice: User, system: System, request_fields: dict[str, Any], code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stream(system, alice, **request_fields)
    assert caught.value.code() == code, caught.value.details()


def test_row_messages_stay_small_whatever_the_rows(alice: User, system: System) -> None:
    """Rows travel in messages of at most 500 rows and about 1 MiB, so large versions never add up
    to a message over the limit (issue 13, item 2)."""
    prompt = alice.create_prompt(original_text="o")
    for _ in range(7):
        reply = alice.http.post(
            f"/api/v1/prompts/{prompt['id']}/versions", json={"text": "😀" * 100_000, "source": "s"}
        )
        assert reply.status_code == 201, reply.text
    parts = stream(system, alice, datasets=[pb.DATASET_TEMPORAL], encoding=pb.DATASET_ENCODING_ROWS)
    sizes = [p.ByteSize() for p in parts[1:]]
    assert sum(len(p.rows.rows) for p in parts[1:]) == 7
    assert max(sizes) < 1024 * 1024, sizes
