"""The create path's bodies are written without pydantic: the bytes must be the ones the models wrote.

The prompt routes send `PromptOut.fields` through orjson instead of validating it into the model and
serializing that; timestamps are formatted without protobuf's `ToJsonString`. Both are held here to
the slower paths they replaced, over random messages (unit tests: no system needed)."""

from __future__ import annotations

import random
import string

import pytest
from google.protobuf import timestamp_pb2

from depot.prompts.v1 import prompts_pb2 as pb
from gateway.models import prompts as m
from gateway.models.common import rfc3339
from gateway.responses import Json

FIRST_SECOND, LAST_SECOND = -62135596800, 253402300799
TEXT = string.printable + "éß日本語\u2028\u2029\U0001f600\x00\x7f"


def timestamps(rng: random.Random, count: int) -> list[timestamp_pb2.Timestamp]:
    nanos = [0, 1, 999_999_999, 1_000, 1_000_000, 500_000_000, 123_456_000, 123_456_789]
    seconds = [FIRST_SECOND, LAST_SECOND, 0, -1, 1, 951782400, 1764880000]  # 2000-02-29, a recent one
    found = [timestamp_pb2.Timestamp(seconds=s, nanos=n) for s in seconds for n in nanos]
    for _ in range(count):
        n = rng.choice(
            [rng.randrange(1_000_000_000), rng.randrange(1000) * 1_000_000, rng.randrange(10**6) * 1000]
        )
        found.append(timestamp_pb2.Timestamp(seconds=rng.randint(FIRST_SECOND, LAST_SECOND), nanos=n))
    return found


def test_timestamps_are_written_as_protobuf_writes_them() -> None:
    rng = random.Random(17)
    for ts in timestamps(rng, 20_000):
        assert rfc3339(ts) == ts.ToJsonString(), (ts.seconds, ts.nanos)
        assert rfc3339(ts) == ts.ToJsonString()  # again: the remembered one


@pytest.mark.parametrize(
    ("seconds", "nanos"), [(FIRST_SECOND - 1, 0), (LAST_SECOND + 1, 0), (0, 10**9), (0, -1)]
)
def test_a_timestamp_out_of_range_is_refused_as_protobuf_refuses_it(seconds: int, nanos: int) -> None:
    ts = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    with pytest.raises(ValueError):
        ts.ToJsonString()
    with pytest.raises(ValueError):
        rfc3339(ts)


def json_value(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choices(TEXT, k=rng.randrange(12)))
    if kind == "int":
        return rng.randint(-(2**53), 2**53)
    if kind == "float":
        return rng.choice(
            [rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-30, 30), 0.1 + 0.2, -0.0]
        )
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "dict":
        return {
            "".join(rng.choices(TEXT, k=rng.randrange(1, 8))): json_value(rng, depth + 1)
            for _ in range(rng.randrange(4))
        }
    return None


def score(rng: random.Random) -> float:
    return rng.choice([rng.randint(0, 40) / 4, rng.uniform(0, 10), 0.1, 10.0, 0.0])


def version(rng: random.Random, number: int) -> pb.Version:
    message = pb.Version(
        version_no=number,
        text="".join(rng.choices(TEXT, k=rng.randrange(1, 60))),
        source=rng.choice(["syntax", "multi", "é-agent"]),
        parent_version_no=rng.choice([0, 0, max(1, number - 1)]),
        create_time=rng.choice(timestamps(rng, 1)[-2:]),
    )
    if rng.random() < 0.5:
        criteria = [score(rng) for _ in range(5)]
        message.scores.CopyFrom(
            pb.Scores(
                clarity=criteria[0],
                specificity=criteria[1],
                actionability=criteria[2],
                structure=criteria[3],
                context_use=criteria[4],
                total=sum(criteria),
            )
        )
    for field in ("explanation", "model_config"):
        if rng.random() < 0.5:
            value = json_value(rng)
            getattr(message, field).update({"value": value, "float": score(rng), "nested": {"list": [value]}})
    return message


def prompt(rng: random.Random) -> pb.Prompt:
    stamp = timestamps(rng, 1)[-1]
    return pb.Prompt(
        id=str(rng.getrandbits(128)),
        request_id=rng.choice(["", "req-1", "é"]),
        agent_type=rng.choice(["", "multi"]),
        original_text="".join(rng.choices(TEXT, k=rng.randrange(1, 80))),
        revision=rng.randint(1, 2**40),
        best_version_no=rng.randint(0, 3),
        version_count=rng.randint(0, 5),
        versions=[version(rng, n) for n in range(1, rng.randint(0, 4) + 1)],
        create_time=stamp,
        update_time=rng.choice([stamp, timestamps(rng, 1)[-1]]),
    )


def test_a_prompt_is_written_byte_for_byte_as_its_model_writes_it() -> None:
    rng = random.Random(1717)
    for _ in range(500):
        message = prompt(rng)
        validated = Json(m.PromptOut.from_proto(message)).body
        assert Json(m.PromptOut.fields(message)).body == validated


def test_a_page_of_prompts_is_written_byte_for_byte_as_its_model_writes_it() -> None:
    rng = random.Random(2929)
    for size in (0, 1, 3):
        reply = pb.ListPromptsResponse(prompts=[prompt(rng) for _ in range(size)], next_page_token=f"t{size}")
        assert Json(m.PromptList.fields(reply)).body == Json(m.PromptList.from_proto(reply)).body
