"""The SQL of the four datasets the prompts service streams to the exports service.

Each dataset is a list of columns (name, SQL expression, kind) over a FROM clause, scoped to one
owner or to every user. The same definition yields a typed row query and a `COPY … TO STDOUT CSV`
statement in which PostgreSQL formats every value — the fast path for CSV — with text cells
neutralised against spreadsheet formulas in the safe mode.

COPY alone would write PostgreSQL's own text (`2026-12-04 12:03:40.637233+00`, `t`/`f`); every
other format writes times as RFC 3339 in UTC and truth values as `true`/`false`, so the COPY
statement formats those columns itself, the same way, in the same pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

# Agents whose latest score the multi-agent log reports (seed 001's three specialists). A version
# counts for a column only when its source is exactly that name; other agents' versions appear as
# the selected agent, in the temporal dataset and in effectiveness, never in these columns.
MULTI_AGENT_SOURCES = ("syntax", "structure", "domain")

# The one written form of a time in every export: UTC, six fraction digits, `Z`.
CSV_TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'

# What a column's values are; exports write it as the column's type (parquet) or format by it (csv).
ColumnKind = Literal["text", "integer", "double", "time", "bool", "id"]


@dataclass(frozen=True)
class Column:
    name: str
    expression: str
    kind: ColumnKind = "double"


@dataclass(frozen=True)
class DatasetQuery:
    columns: tuple[Column, ...]
    body: str  # FROM … [WHERE {scope}] … ORDER BY …; {scope} filters on the owner column given
    owner_column: str
    # Values of the body's other placeholders (the fine-tune dataset's filters); %(owner)s is added.
    params: Mapping[str, Any] = field(default_factory=dict)
    # SQL of when a row last changed (the start of the transaction that wrote it), by which an
    # incremental scheduled export reads a window; "" when rows carry no such time (aggregates).
    changed: str = ""

    def windowed(self, since: datetime, before: datetime) -> DatasetQuery:
        """The query of the rows changed in [since, before) only."""
        if not self.changed or "WHERE {scope}" not in self.body:
            raise ValueError("this dataset's rows carry no change time")
        within = f"({self.changed}) >= %(changed_since)s AND ({self.changed}) < %(changed_before)s"
        return replace(
            self,
            body=self.body.replace("WHERE {scope}", "WHERE {scope} AND " + within, 1),
            params={**self.params, "changed_since": since, "changed_before": before},
        )

    def column_names(self, *, all_users: bool) -> list[str]:
        return [c.name for c in self._columns(all_users)]

    def column_kinds(self, *, all_users: bool) -> list[ColumnKind]:
        return [c.kind for c in self._columns(all_users)]

    def select_sql(self, *, all_users: bool) -> str:
        """The typed query, with psycopg placeholder %(owner)s when scoped to one user."""
        select_list = ", ".join(f"{c.expression} AS {c.name}" for c in self._columns(all_users))
        return f"SELECT {select_list} {self._from(all_users)}"

    def csv_select_sql(self, *, all_users: bool, csv_safe: bool) -> str:
        """The query with every value already the text of its CSV cell (see the module docstring)."""
        select_list = ", ".join(f"{_csv_cell(c, csv_safe)} AS {c.name}" for c in self._columns(all_users))
        return f"SELECT {select_list} {self._from(all_users)}"

    def copy_sql(self, *, all_users: bool, csv_safe: bool) -> str:
        query = self.csv_select_sql(all_users=all_users, csv_safe=csv_safe)
        return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"

    def _columns(self, all_users: bool) -> list[Column]:
        return (
            [Column("owner", self.owner_column, "text"), *self.columns] if all_users else list(self.columns)
        )

    def _from(self, all_users: bool) -> str:
        return self.body.format(scope="TRUE" if all_users else f"{self.owner_column} = %(owner)s")


def _csv_cell(column: Column, csv_safe: bool) -> str:
    value = column.expression
    if column.kind == "time":
        return f"to_char(({value}) AT TIME ZONE 'UTC', '{CSV_TIME_FORMAT}')"
    if column.kind == "bool":
        return f"({value})::text"  # 'true'/'false', where COPY writes t/f
    if column.kind == "text" and csv_safe:
        # OWASP CSV injection: a leading = + - @ tab or CR makes spreadsheets evaluate the cell.
        return f"(CASE WHEN {value} ~ '^[=+@\\t\\r-]' THEN '''' || {value} ELSE {value} END)"
    return value


def _latest_score(source: str) -> str:
    return (
        "(SELECT s.total FROM prompts.versions sv JOIN prompts.scores s"
        " ON s.prompt_id = sv.prompt_id AND s.version_no = sv.version_no"
        f" WHERE sv.prompt_id = p.id AND sv.source = '{source}' ORDER BY sv.version_no DESC LIMIT 1)"
    )


MULTI_AGENT = DatasetQuery(
    columns=(
        Column("request_id", "p.request_id", "text"),
        Column("timestamp", "p.created_at", "time"),
        Column("original_prompt", "p.original_text", "text"),
        Column("final_prompt", "fv.text", "text"),
        Column("selected_agent", "fv.source", "text"),
        *(Column(f"{source}_score", _latest_score(source)) for source in MULTI_AGENT_SOURCES),
    ),
    body=(
        "FROM prompts.prompts p LEFT JOIN prompts.versions fv ON fv.prompt_id = p.id"
        " AND fv.version_no = COALESCE(p.best_version_no, NULLIF(p.version_count, 0))"
        " WHERE {scope} ORDER BY p.created_at, p.id"
    ),
    owner_column="p.owner",
    changed="p.updated_at",  # every append and score write touches it
)

TEMPORAL = DatasetQuery(
    columns=(
        Column("prompt_id", "v.prompt_id", "id"),
        Column("request_id", "p.request_id", "text"),
        Column("version_no", "v.version_no", "integer"),
        Column("parent_version_no", "v.parent_version_no", "integer"),
        Column("source", "v.source", "text"),
        Column("created_at", "v.created_at", "time"),
        Column("text", "v.text", "text"),
        Column("clarity", "s.clarity"),
        Column("specificity", "s.specificity"),
        Column("actionability", "s.actionability"),
        Column("structure", "s.structure"),
        Column("context_use", "s.context_use"),
        Column("total", "s.total"),
    ),
    body=(
        "FROM prompts.versions v JOIN prompts.prompts p ON p.id = v.prompt_id"
        " LEFT JOIN prompts.scores s ON s.prompt_id = v.prompt_id AND s.version_no = v.version_no"
        " WHERE {scope} ORDER BY v.created_at, v.prompt_id, v.version_no"
    ),
    owner_column="p.owner",
    changed="GREATEST(v.created_at, s.updated_at)",  # a version changes when it is (re)scored
)

FEEDBACK = DatasetQuery(
    columns=(
        Column("request_id", "f.request_id", "text"),
        Column("prompt_id", "f.prompt_id", "id"),
        Column("user_choice", "f.user_choice", "text"),
        Column("judge_winner", "f.judge_winner", "text"),
        Column("agent_winner", "f.agent_winner", "text"),
        Column("judge_correct", "f.judge_correct", "bool"),
        Column("created_at", "f.created_at", "time"),
        Column("updated_at", "f.updated_at", "time"),
    ),
    body="FROM prompts.feedback f WHERE {scope} ORDER BY f.created_at, f.id",
    owner_column="f.owner",
    changed="f.updated_at",
)

# Effectiveness on both bases recomputed from every score and feedback row: the reference the
# maintained figures below must always equal, and the definition of each figure (DESIGN.md).
_EFFECTIVENESS_REFERENCE_BODY = """FROM (
    SELECT 'scores' AS basis, v.source AS agent,
           count(*) FILTER (WHERE p.best_version_no = s.version_no) AS wins,
           count(*) AS total, avg(s.total) AS avg_score,
           NULL::bigint AS judge_wins, NULL::bigint AS judge_confirmed
    FROM prompts.scores s
    JOIN prompts.versions v ON v.prompt_id = s.prompt_id AND v.version_no = s.version_no
    JOIN prompts.prompts p ON p.id = s.prompt_id
    WHERE {scope_p}
    GROUP BY v.source
  UNION ALL
    SELECT 'feedback', a.agent,
           count(f.id) FILTER (WHERE f.agent_winner = a.agent),
           n.total, sc.avg_score,
           count(f.id) FILTER (WHERE f.judge_winner = a.agent),
           count(f.id) FILTER (WHERE f.judge_winner = a.agent AND f.judge_correct)
    FROM (SELECT agent_winner AS agent FROM prompts.feedback f WHERE {scope_f}
          UNION SELECT judge_winner FROM prompts.feedback f WHERE {scope_f}) a
    CROSS JOIN (SELECT count(*) AS total FROM prompts.feedback f WHERE {scope_f}) n
    LEFT JOIN prompts.feedback f ON {scope_f} AND (f.agent_winner = a.agent OR f.judge_winner = a.agent)
    LEFT JOIN (
        SELECT v.source AS agent, avg(s.total) AS avg_score
        FROM prompts.scores s
        JOIN prompts.versions v ON v.prompt_id = s.prompt_id AND v.version_no = s.version_no
        WHERE s.prompt_id IN (SELECT f.prompt_id FROM prompts.feedback f WHERE {scope_f})
        GROUP BY v.source
    ) sc ON sc.agent = a.agent
    WHERE a.agent <> 'none'
    GROUP BY a.agent, n.total, sc.avg_score
) e ORDER BY e.basis DESC, e.agent"""

# The same figures from the counters the writes keep (migrations/prompts 0004, effectiveness.py):
# one index range of the owner's rows. Means are sum / count in float8 like avg(): the sums are
# exact, so they equal the reference whenever its running float sum is exact, and never drift.
# An agent is listed on the feedback basis while some feedback names it (as winner or judge's pick).
_EFFECTIVENESS_BODY = """FROM (
    SELECT 'scores' AS basis, a.agent, sum(a.wins)::bigint AS wins, sum(a.scored)::bigint AS total,
           sum(a.score_sum)::float8 / sum(a.scored)::float8 AS avg_score,
           NULL::bigint AS judge_wins, NULL::bigint AS judge_confirmed
    FROM prompts.agent_stats a
    WHERE {scope_a} AND a.basis = 'scores'
    GROUP BY a.agent HAVING sum(a.scored) > 0
  UNION ALL
    SELECT 'feedback', a.agent, sum(a.wins)::bigint, n.total,
           CASE WHEN sum(a.scored) > 0 THEN sum(a.score_sum)::float8 / sum(a.scored)::float8 END,
           sum(a.judge_wins)::bigint, sum(a.judge_confirmed)::bigint
    FROM prompts.agent_stats a
    CROSS JOIN (SELECT COALESCE(sum(c.total), 0)::bigint AS total FROM prompts.feedback_counts c
                WHERE {scope_c}) n
    WHERE {scope_a} AND a.basis = 'feedback' AND a.agent <> 'none'
    GROUP BY a.agent, n.total HAVING sum(a.wins + a.judge_wins - a.judge_confirmed) > 0
) e ORDER BY e.basis DESC, e.agent"""


@dataclass(frozen=True)
class EffectivenessQuery(DatasetQuery):
    """Aggregates per agent: no owner column even across users, and one scope per table aliased."""

    def _columns(self, all_users: bool) -> list[Column]:
        return list(self.columns)

    def _from(self, all_users: bool) -> str:
        scopes = {alias: "TRUE" if all_users else f"{alias}.owner = %(owner)s" for alias in "pfac"}
        return self.body.format(**{f"scope_{alias}": scope for alias, scope in scopes.items()})


_EFFECTIVENESS_COLUMNS = (
    Column("basis", "e.basis", "text"),
    Column("agent", "e.agent", "text"),
    Column("wins", "e.wins", "integer"),
    Column("total", "e.total", "integer"),
    Column("win_rate", "CASE WHEN e.total > 0 THEN e.wins::float8 / e.total ELSE 0 END"),
    Column("avg_score", "e.avg_score"),
    Column("judge_wins", "e.judge_wins", "integer"),
    Column(
        "judge_agreement",
        "CASE WHEN e.judge_wins > 0 THEN e.judge_confirmed::float8 / e.judge_wins END",
    ),
)
EFFECTIVENESS = EffectivenessQuery(columns=_EFFECTIVENESS_COLUMNS, body=_EFFECTIVENESS_BODY, owner_column="")
EFFECTIVENESS_REFERENCE = EffectivenessQuery(
    columns=_EFFECTIVENESS_COLUMNS, body=_EFFECTIVENESS_REFERENCE_BODY, owner_column=""
)

DATASETS: dict[str, DatasetQuery] = {
    "multi-agent": MULTI_AGENT,
    "temporal": TEMPORAL,
    "feedback": FEEDBACK,
    "effectiveness": EFFECTIVENESS,
}
