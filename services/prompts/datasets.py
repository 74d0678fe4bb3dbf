"""The SQL of the four datasets the prompts service streams to the exports service.

Each dataset is a list of columns (name, SQL expression, whether it is text) over a FROM clause,
scoped to one owner or to every user. The same definition yields a typed row query and a
`COPY … TO STDOUT CSV` statement in which PostgreSQL formats every value — the fast path for
CSV — with text cells neutralised against spreadsheet formulas in the safe mode.
"""

from __future__ import annotations

from dataclasses import dataclass

# Agents whose latest score the multi-agent log reports (seed 001's three specialists).
MULTI_AGENT_SOURCES = ("syntax", "structure", "domain")


@dataclass(frozen=True)
class Column:
    name: str
    expression: str
    is_text: bool = False


@dataclass(frozen=True)
class DatasetQuery:
    columns: tuple[Column, ...]
    body: str  # FROM … [WHERE {scope}] … ORDER BY …; {scope} filters on the owner column given
    owner_column: str

    def column_names(self, *, all_users: bool) -> list[str]:
        names = [c.name for c in self.columns]
        return ["owner", *names] if all_users else names

    def select_sql(self, *, all_users: bool, csv_safe: bool = False) -> str:
        """The query, with psycopg placeholder %(owner)s when scoped to one user."""
        columns = (
            [Column("owner", self.owner_column, True), *self.columns] if all_users else list(self.columns)
        )
        select_list = ", ".join(f"{_cell(c, csv_safe)} AS {c.name}" for c in columns)
        scope = "TRUE" if all_users else f"{self.owner_column} = %(owner)s"
        return f"SELECT {select_list} {self.body.format(scope=scope)}"

    def copy_sql(self, *, all_users: bool, csv_safe: bool) -> str:
        return f"COPY ({self.select_sql(all_users=all_users, csv_safe=csv_safe)}) TO STDOUT WITH (FORMAT csv, HEADER)"


def _cell(column: Column, csv_safe: bool) -> str:
    if not (csv_safe and column.is_text):
        return column.expression
    # OWASP CSV injection: a leading = + - @ tab or CR makes spreadsheets evaluate the cell.
    return f"(CASE WHEN {column.expression} ~ '^[=+@\\t\\r-]' THEN '''' || {column.expression} ELSE {column.expression} END)"


def _latest_score(source: str) -> str:
    return (
        "(SELECT s.total FROM prompts.versions sv JOIN prompts.scores s"
        " ON s.prompt_id = sv.prompt_id AND s.version_no = sv.version_no"
        f" WHERE sv.prompt_id = p.id AND sv.source = '{source}' ORDER BY sv.version_no DESC LIMIT 1)"
    )


MULTI_AGENT = DatasetQuery(
    columns=(
        Column("request_id", "p.request_id", True),
        Column("timestamp", "p.created_at"),
        Column("original_prompt", "p.original_text", True),
        Column("final_prompt", "fv.text", True),
        Column("selected_agent", "fv.source", True),
        *(Column(f"{source}_score", _latest_score(source)) for source in MULTI_AGENT_SOURCES),
    ),
    body=(
        "FROM prompts.prompts p LEFT JOIN prompts.versions fv ON fv.prompt_id = p.id"
        " AND fv.version_no = COALESCE(p.best_version_no, NULLIF(p.version_count, 0))"
        " WHERE {scope} ORDER BY p.created_at, p.id"
    ),
    owner_column="p.owner",
)

TEMPORAL = DatasetQuery(
    columns=(
        Column("prompt_id", "v.prompt_id"),
        Column("request_id", "p.request_id", True),
        Column("version_no", "v.version_no"),
        Column("parent_version_no", "v.parent_version_no"),
        Column("source", "v.source", True),
        Column("created_at", "v.created_at"),
        Column("text", "v.text", True),
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
)

FEEDBACK = DatasetQuery(
    columns=(
        Column("request_id", "f.request_id", True),
        Column("prompt_id", "f.prompt_id"),
        Column("user_choice", "f.user_choice", True),
        Column("judge_winner", "f.judge_winner", True),
        Column("agent_winner", "f.agent_winner", True),
        Column("judge_correct", "f.judge_correct"),
        Column("created_at", "f.created_at"),
        Column("updated_at", "f.updated_at"),
    ),
    body="FROM prompts.feedback f WHERE {scope} ORDER BY f.created_at, f.id",
    owner_column="f.owner",
)

# Effectiveness on both bases in one aggregate query (no loop per agent).
_EFFECTIVENESS_BODY = """FROM (
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


@dataclass(frozen=True)
class EffectivenessQuery(DatasetQuery):
    def select_sql(self, *, all_users: bool, csv_safe: bool = False) -> str:
        select_list = ", ".join(f"{_cell(c, csv_safe)} AS {c.name}" for c in self.columns)
        scope_p = "TRUE" if all_users else "p.owner = %(owner)s"
        scope_f = "TRUE" if all_users else "f.owner = %(owner)s"
        return f"SELECT {select_list} {self.body.format(scope_p=scope_p, scope_f=scope_f)}"

    def column_names(self, *, all_users: bool) -> list[str]:
        return [c.name for c in self.columns]


EFFECTIVENESS = EffectivenessQuery(
    columns=(
        Column("basis", "e.basis", True),
        Column("agent", "e.agent", True),
        Column("wins", "e.wins"),
        Column("total", "e.total"),
        Column("win_rate", "CASE WHEN e.total > 0 THEN e.wins::float8 / e.total ELSE 0 END"),
        Column("avg_score", "e.avg_score"),
        Column("judge_wins", "e.judge_wins"),
        Column(
            "judge_agreement",
            "CASE WHEN e.judge_wins > 0 THEN e.judge_confirmed::float8 / e.judge_wins END",
        ),
    ),
    body=_EFFECTIVENESS_BODY,
    owner_column="",
)

DATASETS: dict[str, DatasetQuery] = {
    "multi-agent": MULTI_AGENT,
    "temporal": TEMPORAL,
    "feedback": FEEDBACK,
    "effectiveness": EFFECTIVENESS,
}
