"""What every domain's models share: strict request bodies, bounded free-form JSON, the error body,
timestamps, and the choice lists read from the protos' enums (the one source of those values)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar, get_args

from google.protobuf import timestamp_pb2
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from services.common.json_values import JsonValueError, check_json_value

# Version numbers and counts travel as protobuf int32.
INT32_MAX = 2**31 - 1


def _digits(value: Any) -> Any:
    """A query or path integer is written in digits: pydantic alone would read `0.0` or `1e3` as one."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise PydanticCustomError(
            "int_parsing", "must be a whole number written in digits, got {value!r}", {"value": value[:40]}
        )
    return value


# The type of integer query and path parameters.
Digits = Annotated[int, BeforeValidator(_digits)]


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """The bounds of services.common.json_values, checked before the value becomes a protobuf Struct
    (whose numbers are doubles: an integer beyond 2^53 would be changed, not refused)."""
    try:
        check_json_value(value, field="")
    except JsonValueError as exc:
        # The error handler appends `path` to the field's own location: versions.0.explanation.a.b[3].
        raise PydanticCustomError("json_value", exc.problem, {"path": exc.path}) from None
    return value


# A free-form JSON object (an explanation, export options): at most 32 levels, finite numbers,
# integers within ±2^53, keys of at most 256 characters.
JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]


class Body(BaseModel):
    """Request bodies: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Choices:
    """A protobuf enum's values as the REST API spells them (DATASET_MULTI_AGENT: `multi-agent`),
    `_UNSPECIFIED` left out: the gateway documents and checks the names, the service the meaning."""

    def __init__(self, enum: Any, prefix: str) -> None:
        self.numbers: dict[str, int] = {
            name.removeprefix(prefix).lower().replace("_", "-"): number
            for name, number in enum.items()
            if not name.endswith("_UNSPECIFIED")
        }
        self.names = {number: name for name, number in self.numbers.items()}
        self.type: Any = Literal[tuple(self.numbers)]

    def name(self, number: int) -> str:
        return self.names.get(number, "unspecified")


_EPOCH = datetime.datetime(1970, 1, 1)
_DAY_ONE, _LAST_SECOND = -62135596800, 253402300799  # 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z


def rfc3339(ts: timestamp_pb2.Timestamp) -> str:
    """The timestamp as protobuf's `ToJsonString` writes it (Z, and 0, 3, 6 or 9 fractional digits as
    the nanoseconds need), at a third of its cost; the times a reply carries are often one instant
    (a create's, its version's, its update's), so the last one is remembered."""
    global _last
    seconds, nanos = ts.seconds, ts.nanos
    if _last[0] == seconds and _last[1] == nanos:
        return _last[2]
    if not (_DAY_ONE <= seconds <= _LAST_SECOND and 0 <= nanos < 1_000_000_000):
        return str(ts.ToJsonString())  # which refuses it as protobuf does
    text = (_EPOCH + datetime.timedelta(0, seconds)).isoformat()
    if nanos == 0:
        text += "Z"
    elif nanos % 1_000_000 == 0:
        text += f".{nanos // 1_000_000:03d}Z"
    elif nanos % 1000 == 0:
        text += f".{nanos // 1000:06d}Z"
    else:
        text += f".{nanos:09d}Z"
    _last = (seconds, nanos, text)
    return text


_last: tuple[int, int, str] = (0, -1, "")


def optional_time(message: Any, name: str) -> str | None:
    """An optional timestamp field as RFC 3339, None when unset."""
    return rfc3339(getattr(message, name)) if message.HasField(name) else None


class Out(BaseModel):
    """A response body: `fields` maps the service's message to the JSON keys to send (a key left out is
    not sent), and `from_proto` validates them against this model, so the body is what it documents.

    Where every field is one of the message's own types (strings, integers, doubles, Struct objects),
    nothing can fail that validation and `Json(fields)` writes the very bytes the model would: such
    routes send `fields` as it is (tests/gateway/test_response_bodies.py holds them to that)."""

    @staticmethod
    def fields(message: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_proto(cls, message: Any) -> Self:
        return cls.model_validate(cls.fields(message))


ItemT = TypeVar("ItemT", bound=Out)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: `repeated` names the reply's field that holds the items."""

    items: list[ItemT]
    next_page_token: str

    repeated: ClassVar[str]

    @classmethod
    def page(cls, reply: Any, items: list[dict[str, Any]], **extra: Any) -> Self:
        return cls.model_validate({"items": items, "next_page_token": reply.next_page_token, **extra})

    @classmethod
    def from_proto(cls, reply: Any) -> Self:
        return cls.model_validate(cls.fields(reply))

    @classmethod
    def fields(cls, reply: Any) -> dict[str, Any]:
        """The page's JSON keys (sent as they are when the items' `fields` may be: see Out)."""
        (item,) = get_args(cls.model_fields["items"].annotation)
        items = [item.fields(m) for m in getattr(reply, cls.repeated)]
        return {"items": items, "next_page_token": reply.next_page_token}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]]


class ErrorOut(BaseModel):
    error: ErrorDetail
