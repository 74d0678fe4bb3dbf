"""Table cells and Python values, both ways, for every proto's Cell: depot.prompts.v1.Cell (a dataset's)
and depot.files.v1.Cell (an artifact's) share the oneof `kind` (string, int, double, bool; the
dataset's also a time), so one conversion serves both, and the readers of either (exports, the gateway)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from google.protobuf.message import Message

from services.common.timestamps import datetime_of, timestamp

C = TypeVar("C", bound=Message)


def cell_of(value: Any, cell_type: Callable[..., C]) -> C:
    """`value` as a Cell of `cell_type`; None leaves the oneof unset (null). A datetime needs a Cell
    with a time; an id (UUID) is written as text, a Decimal (numeric aggregates) as a double."""
    if value is None:
        return cell_type()
    if isinstance(value, bool):  # before int: a bool is an int too
        return cell_type(bool_value=value)
    if isinstance(value, int):
        return cell_type(int_value=value)
    if isinstance(value, float | Decimal):
        return cell_type(double_value=float(value))
    if isinstance(value, datetime):
        return cell_type(time_value=timestamp(value))
    return cell_type(string_value=str(value))


def cell_value(cell: Any) -> Any:
    """A Cell's value (a time as an aware datetime); no kind set is None."""
    kind = cell.WhichOneof("kind")
    if kind is None:
        return None
    if kind == "time_value":
        return datetime_of(cell.time_value)
    return getattr(cell, kind)
