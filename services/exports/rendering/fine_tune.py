"""The fine-tune dataset as the rows training tools read (DESIGN.md, Data for pipelines).

The prompts service chooses the rows in SQL (services/prompts/fine_tune.py defines which) and
streams them flat; here a `chat` row becomes the chat format
`{"messages": [{"role": "user", "content": <original_text>}, {"role": "assistant", "content":
<version text>}], "metadata": {prompt_id, version_no, source, total}}`, and a `preference` row
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
    if table.columns != CHAT_COLUMNS:
        raise ValueError(f"the fine-tune dataset sent columns {table.columns}, expected {CHAT_COLUMNS}")
    return Table(table.name, ["messages", "metadata"], _chat_rows(table.rows))


def _chat_rows(rows: Iterable[Sequence[Cell]]) -> Iterator[list[Cell]]:
    for prompt_id, version_no, source, total, original_text, text in rows:
        yield [
            [{"role": "user", "content": original_text}, {"role": "assistant", "content": text}],
            {"prompt_id": prompt_id, "version_no": version_no, "source": source, "total": total},
        ]
