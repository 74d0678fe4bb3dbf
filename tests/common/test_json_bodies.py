"""The gateway's strict, bounded reading of JSON bodies, without I/O."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from gateway.json_bodies import MAX_BODY_DEPTH, nesting_depth, problem


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def random_value(rng: random.Random, level: int = 0) -> Any:
    roll = rng.random()
    if level > 12 or roll < 0.3:
        return rng.choice([1, 2.5, None, True, "text", 'a[{"]}\\', [], {}])
    if roll < 0.65:
        return [random_value(rng, level + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}[{{": random_value(rng, level + 1) for i in range(rng.randint(0, 3))}


def test_the_depth_read_from_the_bytes_is_the_depth_of_the_value() -> None:
    rng = random.Random(13)
    for _ in range(2_000):
        value = random_value(rng)
        assert nesting_depth(orjson.dumps(value), limit=MAX_BODY_DEPTH) == depth(value), value


@pytest.mark.parametrize("levels", [65, 900, 100_000])
def test_bodies_nested_beyond_the_limit_are_refused(levels: int) -> None:
    assert problem(b"[" * levels + b"]" * levels) == f"the body must nest at most {MAX_BODY_DEPTH} levels"
    assert problem(b'{"a":' * levels + b"1" + b"}" * levels) is not None


@pytest.mark.parametrize(
    "body",
    [b'{"a": NaN}', b"[Infinity]", b"[-Infinity]", b'{"a": 1e400}', b'"\\ud800"', b'{"a": 1,}', b"\xe9"],
)
def test_what_strict_json_is_not_is_refused(body: bytes) -> None:
    assert (problem(body) or "").startswith("the body is not valid JSON"), problem(body)


def test_brackets_inside_strings_are_text() -> None:
    assert problem(orjson.dumps({"a": "[" * 1_000})) is None
    assert problem(b"[" * 64 + b"]" * 64) is None
