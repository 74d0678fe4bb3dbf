"""Table cells as stored (jsonb) and as read back, with each number keeping its type.

jsonb keeps numbers as PostgreSQL numerics, which remember digits and scale but not whether the
writer meant a double: 1e18 written as "1e+18" comes back as 1000000000000000000, an integer, and
1e19 as an integer no int64 can hold (so every later read failed). So doubles are written with a
fraction ("1000000000000000000.0"), which jsonb keeps and gives back as a double; integers go as
written. Rows stored before this rule may hold such numbers as integers beyond int64: they are read
back as the doubles they were.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _cell_json(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a cell cannot hold {value}")  # refused earlier, by rules.check_artifact
        # An integral double with an exponent would lose its type in jsonb; its exact digits do not.
        return f"{int(value)}.0" if value.is_integer() else repr(value)
    return json.dumps(value, ensure_ascii=False)


def rows_json(rows: Sequence[Sequence[Any]]) -> str:
    """The rows as JSON text for a jsonb column, doubles written so that they stay doubles."""
    return "[" + ",".join("[" + ",".join(_cell_json(v) for v in row) + "]" for row in rows) + "]"


def stored_value(value: Any) -> Any:
    """A cell as read from jsonb: an integer beyond int64 (a double stored before rows_json) is a double."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        return float(value)
    return value
