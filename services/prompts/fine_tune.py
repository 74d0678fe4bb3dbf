"""The fine-tune dataset: the versions worth training on, chosen by PostgreSQL, streamed like a dataset.

Two shapes, each a dataset query whose filters are bound parameters, so the rows that do not
qualify never leave the database:

- `chat`: one row per version that passes every filter set (prompt_id, version_no, source, total,
  original_text, text), oldest prompt first; across users, `owner` leads as in every dataset.
- `preference`: one row (prompt, chosen, rejected) per prompt whose latest feedback chose an agent
  (agent_winner, not `none`):
  `chosen` is that agent's version of the prompt (its highest total, the latest on ties or when
  unscored), `rejected` is the highest-scored version of the prompt from any other agent (the latest
  on ties; unscored versions are never rejected). A prompt without both has no row.

Filters (every one set must hold): `min_total` keeps versions scored at least that much (for a pair,
the chosen one); `preferred_only` keeps versions from the agent the prompt's latest feedback chose (a
pair's chosen version always is one); `best_only` keeps each prompt's best head (a pair's chosen version);
`agents` keeps versions from those agents (both of a pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.errors import InvalidArgument, echo
from services.prompts.datasets import Column, DatasetQuery

FINE_TUNE = "fine-tune"
SHAPES = ("chat", "preference")
MAX_TOTAL = 50.0
MAX_AGENTS = 50
MAX_AGENT_CHARS = 255

_TOTAL = (
    "(SELECT s.total FROM prompts.scores s WHERE s.prompt_id = v.prompt_id AND s.version_no = v.version_no)"
)
# The agent the prompt's latest feedback chose; `none` (the user kept the original) chooses no version.
_CHOSEN_AGENT = (
    "(SELECT f.agent_winner FROM prompts.feedback f WHERE f.prompt_id = p.id"
    " ORDER BY f.updated_at DESC, f.id DESC LIMIT 1)"
)


@dataclass(frozen=True)
class FineTune:
    """Validated options of the fine-tune dataset."""

    min_total: float = 0.0
    preferred_only: bool = False
    best_only: bool = False
    agents: tuple[str, ...] = ()
    shape: str = "chat"

    def query(self) -> DatasetQuery:
        return _chat_query(self) if self.shape == "chat" else _preference_query(self)

    def params(self) -> dict[str, Any]:
        return {"min_total": self.min_total, "agents": list(self.agents)}


def fine_tune_options(
    *, min_total: float, preferred_only: bool, best_only: bool, agents: list[str], shape: str
) -> FineTune:
    """The options as sent, checked; a value out of range is InvalidArgument naming the option."""
    if not 0 <= min_total <= MAX_TOTAL:
        raise InvalidArgument(
            f"fine_tune.min_total must be between 0 and {MAX_TOTAL:g}, got {min_total:g}",
            field="fine_tune.min_total",
        )
    if shape not in SHAPES:
        raise InvalidArgument(
            f"fine_tune.shape must be chat or preference, got {echo(shape)}", field="fine_tune.shape"
        )
    if len(agents) > MAX_AGENTS:
        raise InvalidArgument(f"fine_tune.agents names at most {MAX_AGENTS} agents", field="fine_tune.agents")
    for agent in agents:
        if not agent or len(agent) > MAX_AGENT_CHARS or not agent.isprintable():
            raise InvalidArgument(
                f"fine_tune.agents must be names of 1 to {MAX_AGENT_CHARS} printable characters, got {echo(agent)}",
                field="fine_tune.agents",
            )
    return FineTune(min_total, preferred_only, best_only, tuple(sorted(set(agents))), shape)


@dataclass(frozen=True)
class PreferenceQuery(DatasetQuery):
    """Preference pairs carry no owner column, even across users: a pair is exactly {prompt, chosen,
    rejected}, as preference trainers read it. (Chat rows lead with `owner` across users, as every other
    dataset does; the exports service puts it into their metadata.)"""

    def _columns(self, all_users: bool) -> list[Column]:
        return list(self.columns)


def _chat_query(options: FineTune) -> DatasetQuery:
    conditions = ["{scope}"]
    if options.min_total > 0:
        conditions.append(f"{_TOTAL} >= %(min_total)s")
    if options.preferred_only:
        conditions.append(f"v.source = {_CHOSEN_AGENT}")
    if options.best_only:
        conditions.append("v.version_no = p.best_version_no")
    if options.agents:
        conditions.append("v.source = ANY(%(agents)s)")
    return DatasetQuery(
        columns=(
            Column("prompt_id", "v.prompt_id", "id"),
            Column("version_no", "v.version_no", "integer"),
            Column("source", "v.source", "text"),
            Column("total", _TOTAL, "double"),
            Column("original_text", "p.original_text", "text"),
            Column("text", "v.text", "text"),
        ),
        body=(
            "FROM prompts.versions v JOIN prompts.prompts p ON p.id = v.prompt_id"
            f" WHERE {' AND '.join(conditions)} ORDER BY p.created_at, p.id, v.version_no"
        ),
        owner_column="p.owner",
        params=options.params(),
    )


def _preference_query(options: FineTune) -> DatasetQuery:
    chosen = ["v.prompt_id = p.id", "v.source = fb.agent"]
    rejected = ["v.prompt_id = p.id", "v.source <> fb.agent"]
    if options.min_total > 0:
        chosen.append("s.total >= %(min_total)s")
    if options.best_only:
        chosen.append("v.version_no = p.best_version_no")
    if options.agents:
        chosen.append("v.source = ANY(%(agents)s)")
        rejected.append("v.source = ANY(%(agents)s)")
    scored = (
        "FROM prompts.versions v LEFT JOIN prompts.scores s"
        " ON s.prompt_id = v.prompt_id AND s.version_no = v.version_no"
    )
    return PreferenceQuery(
        columns=(
            Column("prompt", "p.original_text", "text"),
            Column("chosen", "c.text", "text"),
            Column("rejected", "r.text", "text"),
        ),
        body=(
            f"FROM prompts.prompts p CROSS JOIN LATERAL (SELECT {_CHOSEN_AGENT} AS agent) fb"
            f" CROSS JOIN LATERAL (SELECT v.text {scored} WHERE {' AND '.join(chosen)}"
            " ORDER BY s.total DESC NULLS LAST, v.version_no DESC LIMIT 1) c"
            f" CROSS JOIN LATERAL (SELECT v.text {scored} WHERE {' AND '.join(rejected)} AND s.total IS NOT NULL"
            " ORDER BY s.total DESC, v.version_no DESC LIMIT 1) r"
            " WHERE {scope} AND fb.agent <> 'none' ORDER BY p.created_at, p.id"
        ),
        owner_column="p.owner",
        params=options.params(),
    )
