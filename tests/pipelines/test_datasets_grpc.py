"""StreamDatasets over gRPC: each column's type in the header, and the fine-tune dataset's options
checked by the prompts service itself (INVALID_ARGUMENT naming the option), whoever calls it."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.exports.conftest import create_session
from tests.support.system import System, User

STRING, INTEGER, DOUBLE = pb.COLUMN_TYPE_STRING, pb.COLUMN_TYPE_INTEGER, pb.COLUMN_TYPE_DOUBLE
BOOLEAN, TIMESTAMP = pb.COLUMN_TYPE_BOOLEAN, pb.COLUMN_TYPE_TIMESTAMP


def stream(system: System, user: User, **request: Any) -> list[Any]:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    return list(stub.StreamDatasets(pb.StreamDatasetsRequest(**request), metadata=user.metadata, timeout=30))


def test_the_header_names_each_columns_type(alice: User, system: System) -> None:
    create_session(alice)
    asked = [pb.DATASET_TEMPORAL, pb.DATASET_FEEDBACK, pb.DATASET_EFFECTIVENESS, pb.DATASET_MULTI_AGENT]
    header = stream(system, alice, datasets=asked, encoding=pb.DATASET_ENCODING_ROWS)[0].header
    types = {d.dataset: dict(zip(d.columns, d.types, strict=True)) for d in header.datasets}
    assert list(types[pb.DATASET_TEMPORAL].values()) == [
        STRING,
        STRING,
        INTEGER,
        INTEGER,
        STRING,
        TIMESTAMP,
        STRING,
        *[DOUBLE] * 6,
    ]
    assert types[pb.DATASET_FEEDBACK]["judge_correct"] == BOOLEAN
    assert types[pb.DATASET_FEEDBACK]["updated_at"] == TIMESTAMP
    effectiveness = types[pb.DATASET_EFFECTIVENESS]
    assert (effectiveness["wins"], effectiveness["win_rate"], effectiveness["basis"]) == (
        INTEGER,
        DOUBLE,
        STRING,
    )
    assert types[pb.DATASET_MULTI_AGENT]["syntax_score"] == DOUBLE


def test_the_fine_tune_header_names_the_shapes_columns(alice: User, system: System) -> None:
    chat = stream(system, alice, datasets=[pb.DATASET_FINE_TUNE], encoding=pb.DATASET_ENCODING_ROWS)
    [columns] = chat[0].header.datasets
    assert list(columns.columns) == ["prompt_id", "version_no", "source", "total", "original_text", "text"]
    assert list(columns.types) == [STRING, INTEGER, STRING, DOUBLE, STRING, STRING]
    options = pb.FineTuneOptions(shape=pb.FINE_TUNE_SHAPE_PREFERENCE)
    pairs = stream(
        system, alice, datasets=[pb.DATASET_FINE_TUNE], encoding=pb.DATASET_ENCODING_ROWS, fine_tune=options
    )
    assert list(pairs[0].header.datasets[0].columns) == ["prompt", "chosen", "rejected"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (pb.FineTuneOptions(min_total=50.5), "fine_tune.min_total"),
        (pb.FineTuneOptions(min_total=-0.5), "fine_tune.min_total"),
        (pb.FineTuneOptions(shape=7), "fine_tune.shape"),  # type: ignore[arg-type]
        (pb.FineTuneOptions(agents=[""]), "fine_tune.agents"),
        (pb.FineTuneOptions(agents=["a\nb"]), "fine_tune.agents"),
        (pb.FineTuneOptions(agents=[f"agent-{n}" for n in range(51)]), "fine_tune.agents"),
    ],
)
def test_a_bad_fine_tune_option_is_invalid_argument_naming_it(
    alice: User, system: System, options: pb.FineTuneOptions, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stream(
            system,
            alice,
            datasets=[pb.DATASET_FINE_TUNE],
            encoding=pb.DATASET_ENCODING_ROWS,
            fine_tune=options,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = dict(caught.value.trailing_metadata())["grpc-status-details-bin"]
    info = error_details_pb2.ErrorInfo()
    assert status_pb2.Status.FromString(details).details[0].Unpack(info)
    assert info.metadata["field"] == field


def test_the_fine_tune_dataset_is_not_streamed_as_csv(alice: User, system: System) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stream(system, alice, datasets=[pb.DATASET_FINE_TUNE], encoding=pb.DATASET_ENCODING_CSV)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rows only" in (caught.value.details() or "")
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    with pytest.raises(grpc.RpcError) as single:
        list(
            stub.StreamDatasetCsv(
                pb.StreamDatasetCsvRequest(dataset=pb.DATASET_FINE_TUNE), metadata=alice.metadata, timeout=30
            )
        )
    assert single.value.code() == grpc.StatusCode.INVALID_ARGUMENT
