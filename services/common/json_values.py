"""Bounded JSON values: the one check for every free-form JSON value Depot takes in.

Explanations, file metadata and export options are JSON a client chooses. Each is held to I-JSON
(RFC 7493): at most MAX_DEPTH levels of nesting, finite numbers only, integers within ±2^53 (what a
double holds exactly — explanations and options travel as google.protobuf.Struct, whose numbers are
doubles, so a larger integer would come back changed), keys of at most MAX_KEY_CHARS characters,
strings of valid Unicode without U+0000 (PostgreSQL's jsonb cannot hold it), and, when the caller
says so, at most `max_bytes` of compact UTF-8 JSON (counted without escapes, so never more than
the real size). The walk is iterative and stops at the first problem,
so a hostile value costs no more than reading it; the message names the path (`explanation.a.b[3]`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from google.protobuf import struct_pb2

from services.common.errors import InvalidArgument

MAX_DEPTH = 32
MAX_KEY_CHARS = 256
MAX_SAFE_INTEGER = 2**53
# How much of a key a message repeats.
_KEY_ECHO_CHARS = 40
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class JsonValueError(InvalidArgument):
    """A JSON value out of bounds: `path` is where (relative to the field), `problem` what."""

    def __init__(self, *, field: str, path: str, problem: str, reason: str) -> None:
        where = f"{field}{path}" if field else path.lstrip(".") or "the value"
        super().__init__(f"{where} {problem}", reason=reason, field=field or None)
        self.path, self.problem = path, problem


def _key_path(key: str) -> str:
    shown = key if len(key) <= _KEY_ECHO_CHARS else key[:_KEY_ECHO_CHARS] + "…"
    return f".{shown}" if _PLAIN_KEY.fullmatch(key) else f"[{shown!r}]"


def _path(chain: tuple[Any, ...] | None) -> str:
    """`.a.b[3]` from the parent chain the walk keeps (built only when a message needs it)."""
    parts: list[str] = []
    while chain is not None:
        chain, step = chain
        parts.append(f"[{step}]" if isinstance(step, int) else _key_path(step))
    return "".join(reversed(parts))


def _string_bytes(text: str) -> int | None:
    """UTF-8 size of a string, or None when it holds a lone surrogate or U+0000."""
    if "\x00" in text:
        return None
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        return None


def _number_problem(value: int | float) -> str | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else f"must be a finite number, got {value}"
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return None
    digits = len(str(abs(value))) if value.bit_length() < 4000 else "thousands of"
    return (
        f"must be an integer within ±{MAX_SAFE_INTEGER} (2^53, what a JSON double holds exactly; "
        f"send larger ones as strings), got one of {digits} digits"
    )


def check_json_value(
    value: Any,
    *,
    field: str,
    max_depth: int = MAX_DEPTH,
    max_bytes: int | None = None,
    reason_prefix: str = "JSON",
) -> None:
    """Raises JsonValueError (INVALID_ARGUMENT, reason `<prefix>_…`) unless `value` is within the bounds above."""

    def fail(chain: tuple[Any, ...] | None, problem: str, reason: str) -> JsonValueError:
        return JsonValueError(
            field=field, path=_path(chain), problem=problem, reason=f"{reason_prefix}_{reason}"
        )

    size = 0
    stack: list[tuple[Any, int, tuple[Any, ...] | None]] = [(value, 0, None)]
    while stack:
        item, depth, chain = stack.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if depth >= max_depth:
                raise fail(chain, f"must nest at most {max_depth} levels", "TOO_DEEP")
            size += 2 + max(len(item) - 1, 0)
            if kind is list:
                stack.extend((v, depth + 1, (chain, i)) for i, v in enumerate(item))
                continue
            for key, v in item.items():
                if type(key) is not str:
                    raise fail(chain, f"keys must be strings, got {type(key).__name__}", "NOT_JSON")
                if len(key) > MAX_KEY_CHARS:
                    raise fail(
                        (chain, key),
                        f"key must be at most {MAX_KEY_CHARS} characters, got {len(key)}",
                        "KEY_TOO_LONG",
                    )
                key_bytes = _string_bytes(key)
                if key_bytes is None:
                    raise fail((chain, key), "key must be valid Unicode without U+0000", "HAS_NUL")
                size += key_bytes + 3
                stack.append((v, depth + 1, (chain, key)))
        elif kind is str:
            text_bytes = _string_bytes(item)
            if text_bytes is None:
                raise fail(chain, "must be valid Unicode without U+0000", "HAS_NUL")
            size += text_bytes + 2
        elif kind is bool or item is None:
            size += 4 if item is not False else 5
        elif kind is int or kind is float:
            problem = _number_problem(item)
            if problem:
                raise fail(chain, problem, "NUMBER_OUT_OF_RANGE")
            size += len(repr(item))
        else:
            raise fail(
                chain,
                f"must be JSON (object, array, string, number, true, false, null), got {kind.__name__}",
                "NOT_JSON",
            )
        if max_bytes is not None and size > max_bytes:
            raise fail(None, f"must be at most {max_bytes} bytes of JSON", "TOO_LARGE")


def with_integers(value: Any) -> Any:
    """A JSON value from a google.protobuf.Struct with its whole numbers (within ±2^53) as integers again.

    Struct numbers are doubles, so an integer a client sent comes back as 3.0; in JSON it was 3.
    Values reaching here passed check_json_value, so the recursion is at most MAX_DEPTH deep.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) <= MAX_SAFE_INTEGER else value
    if isinstance(value, dict):
        return {k: with_integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_integers(v) for v in value]
    return value


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct a caller sent as a JSON object, for check_json_value to judge.

    Unlike json_format.MessageToDict it never raises: a NaN or an infinity (a double may hold them)
    stays a float, so the check names it and its path instead of the conversion failing as a 500.
    Whole numbers within ±2^53 become integers again. Keys come in sorted order: a Struct's map
    iterates in an order that differs between processes (and between two parses of the same bytes),
    so an answer, a signed webhook body or an export built from it would change from one read to the
    next. Protobuf's parser bounds a Struct's nesting (about 33 levels), so the recursion is shallow.
    """
    fields = struct.fields
    return {key: _plain(fields[key]) for key in sorted(fields)}


def _plain(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_dict(value.struct_value)
    if kind == "list_value":
        return [_plain(v) for v in value.list_value.values]
    if kind == "number_value":
        return with_integers(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None
