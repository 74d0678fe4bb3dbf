"""The fine-tune dataset as the rows training tools read (DESIGN.md, Data for pipelines).

The prompts service chooses the rows in SQL (services/prompts/fine_tune.py defines which) and
streams them flat; here a `chat` row becomes the chat format
`{"messages": [{"role": "user", "content": <original_text>}, {"role": "assistant", "content":
<version text>}], "metadata": {[owner,] prompt_id, version_no, source, total}}` (`owner` in an admin's
export of every user's rows, which lead with it), and a `preference` row
`{"prompt", "chosen", "rejected"}` is passed on as it came.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from depot.prompts.v1 import prompts_pb2
from services.exports.rendering.renderers import Cell, Table

SHAPES = {"chat": prompts_pb2.FINE_TUNE_SHAPE_CHAT, "preference": prompts_pb2.FINE_TUNE_SHAPE_PREFERENCE}
CHAT_COLUMNS = ["prompt_id", "version_no", "source", "total", "original_text", "text"]


def fine_tune_request(options: dict[str, Any]) -> prompts_pb2.FineTuneOptions:
    """The export's normalised options (rules.fine_tune_options) as the prompts service takes them."""
    return prompts_pb2.FineTuneOptions(
        min_total=float(options["min_total"]),
        preferred_only=bool(options["preferred_only"]),
        best_only=bool(options["best_only"]),
        agents=list(options["agents"]),
        shape=SHAPES[options["shape"]],
    )


def training_table(table: Table, shape: str) -> Table:
    """The streamed rows of the fine-tune dataset in the shape asked for."""
    if shape != "chat":
        return table
    if table.columns not in (CHAT_COLUMNS, ["owner", *CHAT_COLUMNS]):
        raise ValueError(
            f"the fine-tune dataset sent columns {table.columns}, expected [owner,] {CHAT_COLUMNS}"
        )
    owned = table.columns[0] == "owner"
    return Table(table.name, ["messages", "metadata"], _chat_rows(table.rows, owned=owned))


def _chat_rows(rows: Iterable[Sequence[Cell]], *, owned: bool) -> Iterator[list[Cell]]:
    for row in rows:
        owner: dict[str, Cell] = {"owner": row[0]} if owned else {}
        prompt_id, version_no, source, total, original_text, text = row[1:] if owned else row
        yield [
            [{"role": "user", "content": original_text}, {"role": "assistant", "content": text}],
            {**owner, "prompt_id": prompt_id, "version_no": version_no, "source": source, "total": total},
        ]
