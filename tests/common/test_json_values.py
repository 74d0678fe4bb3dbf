"""The one bounded check of free-form JSON values (explanations, metadata, options), without I/O."""

from __future__ import annotations

import time
from typing import Any

import pytest
from google.protobuf import struct_pb2

from services.common.json_values import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    JsonValueError,
    check_json_value,
    struct_dict,
    with_integers,
)


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(levels):
        value = {"a": value} if level % 2 else [value]
    return value


def refusal(value: Any, **bounds: Any) -> JsonValueError:
    with pytest.raises(JsonValueError) as caught:
        check_json_value(value, field="explanation", **bounds)
    return caught.value


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"a": [1, 2.5, "x", True, None, {"b": []}]},
        {"max": MAX_SAFE_INTEGER, "min": -MAX_SAFE_INTEGER, "huge_double": 1e300},
        nested(MAX_DEPTH),
        {"k" * 256: "ünïcødé 😀"},
    ],
)
def test_values_within_the_bounds_pass(value: Any) -> None:
    check_json_value(value, field="explanation")


def test_nesting_beyond_the_limit_names_the_path() -> None:
    error = refusal({"a": {"b": [0, 1, 2, nested(MAX_DEPTH)]}})
    assert error.reason == "JSON_TOO_DEEP"
    assert error.message.startswith("explanation.a.b[3]"), error.message
    assert f"at most {MAX_DEPTH} levels" in error.message


def test_a_hundred_thousand_levels_are_refused_without_recursion() -> None:
    value: Any = 1
    for _ in range(100_000):
        value = [value]
    started = time.process_time()
    assert refusal(value).reason == "JSON_TOO_DEEP"
    assert time.process_time() - started < 5  # bounded work, not a timing claim: no recursion blew


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_numbers_json_cannot_hold_are_refused(number: float) -> None:
    error = refusal({"n": [number]})
    assert (error.reason, error.path) == ("JSON_NUMBER_OUT_OF_RANGE", ".n[0]")


@pytest.mark.parametrize(
    "number",
    [MAX_SAFE_INTEGER + 1, -(MAX_SAFE_INTEGER + 1), 10**300, 2**70000],
    ids=["2^53+1", "-2^53-1", "1e300", "2^70000"],
)
def test_integers_a_double_would_change_are_refused_not_rounded(number: int) -> None:
    error = refusal({"n": number})
    assert error.reason == "JSON_NUMBER_OUT_OF_RANGE"
    assert "2^53" in error.message and len(error.message) < 300, error.message


def test_keys_strings_and_total_size_are_bounded() -> None:
    assert refusal({"k" * 257: 1}).reason == "JSON_KEY_TOO_LONG"
    assert len(refusal({"k" * 10_000: 1}).message) < 300
    assert refusal({"a": "x\x00y"}).reason == "JSON_HAS_NUL"
    assert refusal({"a": "\ud800"}).reason == "JSON_HAS_NUL"
    assert refusal({"a\x00": 1}).reason == "JSON_HAS_NUL"
    assert refusal({"a": "x" * 100}, max_bytes=64).reason == "JSON_TOO_LARGE"
    check_json_value({"a": "x" * 50}, field="f", max_bytes=64)


def test_the_reason_prefix_is_the_callers() -> None:
    with pytest.raises(JsonValueError) as caught:
        check_json_value(nested(40), field="metadata", reason_prefix="METADATA")
    assert caught.value.reason == "METADATA_TOO_DEEP"
    assert caught.value.field == "metadata"


def test_whole_doubles_come_back_as_integers() -> None:
    value = {"a": 3.0, "b": [2.5, -0.0, 1e300, float(MAX_SAFE_INTEGER)], "c": {"d": True, "e": "3.0"}}
    restored = with_integers(value)
    assert restored == {"a": 3, "b": [2.5, 0, 1e300, MAX_SAFE_INTEGER], "c": {"d": True, "e": "3.0"}}
    assert type(restored["a"]) is int and type(restored["b"][0]) is float and type(restored["b"][2]) is float
    assert restored["c"]["d"] is True


def test_a_struct_reads_with_its_keys_sorted_at_every_level() -> None:
    # A Struct's map iterates in an order of its own (it differs between processes, and between two
    # parses of the same bytes): answers built from it must not change from one read to the next.
    keys = [f"key-{n:02d}-{'xyz'[n % 3]}" for n in range(40)][::-1]
    value = {key: {inner: [n, {inner: n}] for inner in keys[:7]} for n, key in enumerate(keys)}
    struct = struct_pb2.Struct()
    struct.update(value)
    for _ in range(3):
        parsed = struct_pb2.Struct.FromString(struct.SerializeToString())
        read = struct_dict(parsed)
        assert read == value
        assert list(read) == sorted(keys)
        assert all(list(inner) == sorted(keys[:7]) for inner in read.values())
