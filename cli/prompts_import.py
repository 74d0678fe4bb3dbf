"""`depot prompts import --user NAME [--dry-run] FILE…`: legacy CSV history into a user's account.

Each file is recognised by its header:
- the multi-agent log (seed 001's columns, also Depot's own `datasets/multi-agent` export):
  request_id, timestamp, original_prompt, final_prompt, selected_agent, syntax_score,
  structure_score, domain_score — one prompt per row, its final prompt as its one version;
- the temporal history (Depot's own `datasets/temporal` columns, of which the old
  prompt_versions.csv holds a subset): prompt_id, version_no and text at least, and any of
  request_id, parent_version_no, source, created_at, the five criteria and total — one prompt per
  prompt_id, its rows its versions.

Everything is written through the prompts service's CreatePrompt as the user (a token minted with
the configured secret, like `depot token`), one call per prompt: versions and scores land in one
transaction or not at all. Every prompt carries a request_id (the file's, else one derived from the
row), so a second run changes nothing ("unchanged"), and a stored prompt with another body under
that request_id is a conflict, reported and never overwritten. A bad row is reported with its file
and line and skipped, with the rest of its prompt; the exit status is then 1.

Scores: seed 001 wrote 0.0 into every per-agent score column as a placeholder, and Depot writes an
empty cell when an agent has no score, so a multi-agent row whose three scores are all exactly 0
(or empty) carries none. The multi-agent columns are per-agent totals (0 to 50) that cannot be
split into the five criteria: they are kept in the version's explanation as
`{"legacy_agent_totals": {agent: total}}`, never as judge scores. In the temporal file empty
criteria mean "not scored" and five numbers are the judge's scores (all zero is a real score
there); a total without criteria is kept as `{"legacy_total": x}` unless it is a 0 placeholder.

When a multi-agent file and a temporal file of the same prompts are imported in one run, the
multi-agent row gives the temporal prompt its original text (matched by request_id); otherwise a
temporal prompt's original text is its first version's text.

Bounds: a cell may hold at most the service's text limit (100,000 characters) and a physical line
at most LINE_LIMIT_BYTES, so a 100 MB field is one reported bad row, not 100 MB of memory. Files
are UTF-8 (a BOM is accepted); a line that is not is a bad row naming it. Cells that look like
spreadsheet formulas are plain text: stored as written, neutralised by safe-mode exports (a
safe-mode export's leading quote is imported as text; export with csv_mode raw to round-trip).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from services.common.errors import DepotError
from services.prompts import rules
from services.prompts.models import SCORE_CRITERIA

MULTI_AGENT_COLUMNS = (
    "request_id",
    "timestamp",
    "original_prompt",
    "final_prompt",
    "selected_agent",
    "syntax_score",
    "structure_score",
    "domain_score",
)
MULTI_AGENT_AGENTS = ("syntax", "structure", "domain")
TEMPORAL_COLUMNS = (
    "prompt_id",
    "request_id",
    "version_no",
    "parent_version_no",
    "source",
    "created_at",
    "text",
    *SCORE_CRITERIA,
    "total",
)
TEMPORAL_REQUIRED = ("prompt_id", "version_no", "text")
MAX_FIELD_CHARS = rules.MAX_TEXT_CHARS
# A legitimate row holds at most two texts of MAX_FIELD_CHARS (4 bytes each in UTF-8) and short
# cells; a physical line longer than this is refused before it is decoded or parsed.
LINE_LIMIT_BYTES = 2 * 4 * MAX_FIELD_CHARS + 64 * 1024
READ_BYTES = 64 * 1024
MAX_TOTAL = len(SCORE_CRITERIA) * rules.SCORE_MAX
DEFAULT_SOURCE = "legacy"
CALL_TIMEOUT_SECONDS = 60.0
TOKEN_TTL_SECONDS = 86400  # as `depot token`'s default: long enough for any import
BOM = b"\xef\xbb\xbf"


class BadRow(Exception):
    """A row (or a physical line) that cannot be imported; the message says why."""


class BadFile(Exception):
    """A file that cannot be imported at all (unreadable, or a header that matches no known file)."""


@dataclass
class Draft:
    """One prompt to create: where it came from and the CreatePrompt body."""

    file: str
    line: int
    request_id: str
    original_text: str | None
    versions: list[rules.NewVersion] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Report:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("created", "unchanged", "conflict", "bad rows"), 0)
    )

    def say(self, outcome: str, where: str, detail: str) -> None:
        print(f"{outcome:<13} {where}: {detail}", flush=True)

    def bad(self, where: str, message: str) -> None:
        self.counts["bad rows"] += 1
        self.say("bad row", where, message)


def add_parser(actions: Any) -> None:
    run_import = actions.add_parser(
        "import",
        help="import legacy CSV history (seed 001's multi-agent log, temporal versions, Depot's dataset CSVs)",
    )
    run_import.add_argument("--user", required=True, help="the user id whose account receives the prompts")
    run_import.add_argument("--dry-run", action="store_true", help="validate and report; write nothing")
    run_import.add_argument("files", nargs="+", type=Path, metavar="FILE")


def run(args: argparse.Namespace) -> None:
    from services.common.settings import Settings

    settings = Settings()
    report = Report()
    drafts = read_files(args.files, report)
    if drafts:
        write_drafts(drafts, user=args.user, settings=settings, dry_run=args.dry_run, report=report)
    summary = ", ".join(f"{n} {k}" for k, n in report.counts.items())
    print(f"{'dry run: ' if args.dry_run else ''}{summary}")
    sys.exit(1 if report.counts["bad rows"] or report.counts["conflict"] else 0)


# Reading ------------------------------------------------------------------------------------------


class Lines:
    """The physical lines of a binary file as text, each bounded and checked to be UTF-8.

    An iterator class, not a generator: a line it refuses raises BadRow and the next call goes on
    with the next line, so the csv reader resumes after the bad row.
    """

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.number = 0
        # Quote characters read since the current record began: odd means inside a quoted cell.
        self.quotes = 0

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        data = self.source.readline(LINE_LIMIT_BYTES + 1)
        if not data:
            raise StopIteration
        self.number += 1
        if self.number == 1 and data.startswith(BOM):
            data = data[len(BOM) :]
        self.quotes += data.count(b'"')
        if len(data) > LINE_LIMIT_BYTES:
            while data and not data.endswith(b"\n"):  # the rest of the line, read and dropped
                data = self.source.readline(READ_BYTES)
                self.quotes += data.count(b'"')
            raise BadRow(
                f"line longer than {LINE_LIMIT_BYTES:,} bytes (a cell holds at most {MAX_FIELD_CHARS:,} characters)"
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadRow(
                f"not UTF-8 (byte 0x{data[error.start]:02x} at byte {error.start + 1} of the line);"
                " save the file as UTF-8"
            ) from None

    def skip_rest_of_record(self) -> None:
        """After a refused line or cell inside a quoted cell: drops lines up to the one closing it,
        so the rest of a huge multi-line cell is not read as rows of its own."""
        while self.quotes % 2:
            data = self.source.readline(READ_BYTES)
            if not data:
                return
            self.quotes += data.count(b'"')
            if data.endswith(b"\n"):
                self.number += 1


def records(source: IO[bytes], name: str, report: Report) -> Iterator[tuple[int, list[str] | None]]:
    """(first line number, cells) of every CSV record; a malformed one is reported and comes as
    (its line, None), since the caller may need to know that a row it cannot read was there."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    lines = Lines(source)
    reader = csv.reader(lines, strict=True)
    while True:
        start = lines.number + 1
        lines.quotes = 0
        try:
            cells = next(reader)
        except StopIteration:
            return
        except BadRow as error:
            report.bad(f"{name}:{lines.number}", str(error))
            lines.skip_rest_of_record()
            yield lines.number, None
            continue
        except csv.Error as error:
            report.bad(f"{name}:{start}", f"malformed CSV: {_csv_message(error)}")
            if "field larger than field limit" in str(error):
                lines.skip_rest_of_record()
            yield start, None
            continue
        yield start, cells


def _csv_message(error: csv.Error) -> str:
    message = str(error)
    if "field larger than field limit" in message:
        return f"a cell longer than {MAX_FIELD_CHARS:,} characters"
    return message


def read_files(paths: list[Path], report: Report) -> list[Draft]:
    """Every importable prompt of the files, in file order; a multi-agent row whose request_id names a
    temporal prompt of the same run gives that prompt its original text instead of becoming one."""
    multi: list[Draft] = []
    temporal: list[Draft] = []
    claimed: set[str] = set()  # request_ids of temporal prompts, imported or not
    for path in paths:
        name = str(path)
        try:
            with path.open("rb") as source:
                kind, drafts, seen = read_file(source, name, report)
        except OSError as error:
            report.bad(name, f"cannot read: {error.strerror}")
            continue
        except BadFile as error:
            report.bad(name, str(error))
            continue
        (multi if kind == "multi-agent" else temporal).extend(drafts)
        claimed |= seen
    originals = {d.request_id: d for d in multi}
    for draft in temporal:
        joined = originals.pop(draft.request_id, None)
        draft.original_text = joined.original_text if joined else draft.versions[0].text
    for request_id in claimed & originals.keys():
        # Its versions are in a temporal file whose prompt was skipped: alone it would be half a prompt.
        draft = originals.pop(request_id)
        report.say("skipped", draft.where, f"request_id {request_id!r}: its temporal prompt was not imported")
    return [*originals.values(), *temporal]


def read_file(source: IO[bytes], name: str, report: Report) -> tuple[str, list[Draft], set[str]]:
    """(kind, drafts, request_ids a temporal file names) of one file."""
    rows = records(source, name, report)
    first = next(rows, None)
    if first is None or first[1] is None:
        raise BadFile("no readable header line")
    header = [cell.strip() for cell in first[1]]
    if header == list(MULTI_AGENT_COLUMNS) or sorted(header) == sorted(MULTI_AGENT_COLUMNS):
        return "multi-agent", list(_multi_agent(header, rows, name, report)), set()
    if set(header) <= set(TEMPORAL_COLUMNS) and set(TEMPORAL_REQUIRED) <= set(header) and _unique(header):
        return "temporal", *_temporal(header, rows, name, report)
    raise BadFile(
        f"unrecognised header {','.join(header)!r}; expected the multi-agent log"
        f" ({','.join(MULTI_AGENT_COLUMNS)}) or the temporal history ({','.join(TEMPORAL_COLUMNS)};"
        f" at least {','.join(TEMPORAL_REQUIRED)})"
    )


def _unique(header: list[str]) -> bool:
    return len(set(header)) == len(header)


def _cells(header: list[str], cells: list[str]) -> dict[str, str]:
    if len(cells) != len(header):
        raise BadRow(f"{len(cells)} cells where the header has {len(header)}")
    return dict(zip(header, cells, strict=True))


def _number(value: str, column: str, *, low: float, high: float) -> float | None:
    """An optional number in [low, high]; an empty cell is None."""
    if not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise BadRow(f"{column} is not a number: {value[:40]!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise BadRow(f"{column} must be between {low:g} and {high:g}, got {value[:40]!r}")
    return number


def _integer(value: str, column: str) -> int | None:
    if not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRow(f"{column} is not a whole number: {value[:40]!r}") from None
    if not 0 <= number <= 2**31 - 1:
        raise BadRow(f"{column} must be between 0 and {2**31 - 1}, got {number}")
    return number


def _derived_request_id(*parts: str) -> str:
    """A stable request_id for a row that has none, so a second run finds what the first created."""
    digest = hashlib.sha256(json.dumps(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"csv-import-{digest[:32]}"


def _check(check: Any, *args: Any, **kwargs: Any) -> Any:
    """A domain rule whose failure is a bad row."""
    try:
        return check(*args, **kwargs)
    except DepotError as error:
        raise BadRow(error.message) from None


def _multi_agent(
    header: list[str], rows: Iterator[tuple[int, list[str] | None]], name: str, report: Report
) -> Iterator[Draft]:
    for line, cells in rows:
        if cells is None:
            continue  # reported
        try:
            yield _multi_agent_row(_cells(header, cells), name, line)
        except BadRow as error:
            report.bad(f"{name}:{line}", str(error))


def _multi_agent_row(row: dict[str, str], name: str, line: int) -> Draft:
    original = _check(rules.require_text, row["original_prompt"], "original_prompt")
    totals = {
        agent: _number(row[f"{agent}_score"], f"{agent}_score", low=0.0, high=MAX_TOTAL)
        for agent in MULTI_AGENT_AGENTS
    }
    # Seed 001 wrote 0.0 for all three as a placeholder; Depot leaves a cell empty: neither is a score.
    scored = {agent: total for agent, total in totals.items() if total is not None}
    if all(total == 0 for total in scored.values()):
        scored = {}
    versions = []
    if row["final_prompt"]:
        explanation: dict[str, Any] = {}
        if scored:
            explanation["legacy_agent_totals"] = scored
        if row["timestamp"].strip():
            explanation["legacy_timestamp"] = row["timestamp"].strip()
        version = rules.NewVersion(
            text=row["final_prompt"],
            source=row["selected_agent"].strip() or DEFAULT_SOURCE,
            explanation=explanation or None,
        )
        versions.append(_check(rules.check_new_version, version, field="final_prompt", existing_versions=0))
    request_id = row["request_id"].strip() or _derived_request_id(
        row["timestamp"], original, row["final_prompt"], row["selected_agent"]
    )
    _check(rules.optional_name, request_id, "request_id")
    return Draft(name, line, request_id, original, versions)


@dataclass
class _TemporalRow:
    line: int
    request_id: str
    version_no: int
    version: rules.NewVersion


def _temporal(
    header: list[str], rows: Iterator[tuple[int, list[str] | None]], name: str, report: Report
) -> tuple[list[Draft], set[str]]:
    """One draft per prompt_id; a prompt with any bad row is skipped whole. A row whose prompt_id
    cannot be read could belong to any prompt, so then no prompt of the file is imported."""
    groups: dict[str, list[_TemporalRow]] = {}
    broken: dict[str, int] = {}
    unattributed: int | None = None
    named: set[str] = set()  # every request_id a row names, so a skipped prompt's stays claimed
    for line, cells in rows:
        prompt_id = ""
        try:
            if cells is None:
                raise BadRow("reported")
            if "request_id" in header and len(cells) == len(header):
                named.add(cells[header.index("request_id")].strip())
            row = _cells(header, cells)
            prompt_id = _check(
                rules.require_text, row["prompt_id"].strip(), "prompt_id", limit=rules.MAX_NAME_CHARS
            )
            parsed = _temporal_row(row, line)
            groups.setdefault(prompt_id, []).append(parsed)
        except BadRow as error:
            if cells is not None:
                report.bad(f"{name}:{line}", str(error))
            if prompt_id:
                broken.setdefault(prompt_id, line)
            elif unattributed is None:
                unattributed = line
    if unattributed is not None:
        report.say(
            "skipped",
            name,
            f"no prompt of this file imported: the bad row at line {unattributed} names no readable"
            " prompt_id, so any prompt could be missing a version",
        )
        return [], named
    drafts = []
    for prompt_id, group in groups.items():
        where = f"{name}:{group[0].line}"
        if prompt_id in broken:
            report.say(
                "skipped",
                where,
                f"prompt {prompt_id!r} skipped whole: its row at line {broken[prompt_id]} is bad",
            )
            continue
        try:
            drafts.append(_temporal_prompt(prompt_id, group, name))
        except BadRow as error:
            report.bad(where, f"prompt {prompt_id!r}: {error}")
    return drafts, named


def _temporal_row(row: dict[str, str], line: int) -> _TemporalRow:
    version_no = _integer(row["version_no"], "version_no")
    if not version_no:
        raise BadRow("version_no must be 1 or more")
    parent = _integer(row.get("parent_version_no", ""), "parent_version_no") or None
    criteria = {
        c: _number(row.get(c, ""), c, low=rules.SCORE_MIN, high=rules.SCORE_MAX) for c in SCORE_CRITERIA
    }
    total = _number(row.get("total", ""), "total", low=0.0, high=MAX_TOTAL)
    present = [c for c, value in criteria.items() if value is not None]
    scores = None
    explanation = None
    if len(present) == len(SCORE_CRITERIA):
        scores = rules.ScoreSet(**{c: float(v) for c, v in criteria.items() if v is not None})
        if total is not None and abs(total - scores.total) > 1e-6 * max(1.0, total):
            raise BadRow(f"total {total:g} is not the sum of the five criteria ({scores.total:g})")
    elif present:
        raise BadRow(f"scores must be all five criteria or none; only {', '.join(present)} given")
    elif total:  # a total that cannot be split into criteria; 0 is the placeholder of "not scored"
        explanation = {"legacy_total": total}
    version = rules.NewVersion(
        text=_check(rules.require_text, row["text"], "text"),
        source=row.get("source", "").strip() or DEFAULT_SOURCE,
        explanation=explanation,
        parent_version_no=parent,
        scores=scores,
    )
    return _TemporalRow(line, row.get("request_id", "").strip(), version_no, version)


def _temporal_prompt(prompt_id: str, group: list[_TemporalRow], name: str) -> Draft:
    group.sort(key=lambda r: r.version_no)
    numbers = [r.version_no for r in group]
    if numbers != list(range(1, len(group) + 1)):
        raise BadRow(f"versions must be numbered 1 to {len(group)} once each, got {numbers[:20]}")
    request_ids = {r.request_id for r in group}
    if len(request_ids) > 1:
        raise BadRow(f"its rows name different request_ids: {sorted(request_ids)[:5]}")
    versions = [r.version for r in group]
    _check(rules.check_new_versions, versions)
    request_id = request_ids.pop() or f"csv-import-prompt-{prompt_id}"
    _check(rules.optional_name, request_id, "request_id")
    return Draft(name, min(r.line for r in group), request_id, None, versions)


# Writing ------------------------------------------------------------------------------------------


def write_drafts(drafts: list[Draft], *, user: str, settings: Any, dry_run: bool, report: Report) -> None:
    import grpc

    from depot.prompts.v1 import prompts_pb2 as pb
    from depot.prompts.v1 import prompts_pb2_grpc
    from services.common.channels import sync_channel

    token = _mint(user, settings)
    metadata = (("authorization", f"Bearer {token}"),)
    channel = sync_channel(
        settings.address_for("prompts"),
        service="depot.prompts.v1.PromptsService",
        idempotent_methods=("ListPrompts", "CreatePrompt"),  # every create carries its request_id
        max_message_bytes=settings.max_message_bytes,
    )
    with channel:
        stub = prompts_pb2_grpc.PromptsServiceStub(channel)
        try:
            if dry_run:
                stored = _stored_request_ids(stub, pb, metadata)
                for draft in drafts:
                    outcome = "exists" if draft.request_id in stored else "would create"
                    report.say(outcome, draft.where, _describe(draft))
                return
            for draft in drafts:
                _create(stub, pb, metadata, draft, report, grpc)
        except grpc.RpcError as error:
            if error.code() in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.UNAUTHENTICATED,
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.DEADLINE_EXCEEDED,
            ):
                sys.exit(
                    f"depot prompts import: the prompts service at {settings.address_for('prompts')}"
                    f" refused the import ({error.code().name}: {error.details()}); nothing more was written"
                )
            raise


def _describe(draft: Draft) -> str:
    return f"request_id {draft.request_id!r}, {len(draft.versions)} versions"


def _create(stub: Any, pb: Any, metadata: Any, draft: Draft, report: Report, grpc: Any) -> None:
    request = pb.CreatePromptRequest(
        request_id=draft.request_id,
        original_text=draft.original_text or "",
        versions=[_new_version(pb, v) for v in draft.versions],
    )
    try:
        reply = stub.CreatePrompt(request, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.ALREADY_EXISTS:
            report.counts["conflict"] += 1
            report.say(
                "conflict",
                draft.where,
                f"request_id {draft.request_id!r} is stored with another body; kept the stored prompt",
            )
            return
        if error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
            report.bad(draft.where, f"refused by the prompts service: {error.details()}")
            return
        raise
    outcome = "created" if reply.created else "unchanged"
    report.counts[outcome] += 1
    report.say(outcome, draft.where, f"{_describe(draft)} → prompt {reply.prompt.id}")


def _new_version(pb: Any, version: rules.NewVersion) -> Any:
    from google.protobuf import struct_pb2

    message = pb.NewVersion(
        text=version.text, source=version.source, parent_version_no=version.parent_version_no or 0
    )
    if version.explanation is not None:
        explanation = struct_pb2.Struct()
        explanation.update(version.explanation)
        message.explanation.CopyFrom(explanation)
    if version.scores is not None:
        message.scores.CopyFrom(pb.Scores(**version.scores.as_dict()))
    return message


def _stored_request_ids(stub: Any, pb: Any, metadata: Any) -> set[str]:
    stored: set[str] = set()
    token = ""
    while True:
        page = stub.ListPrompts(
            pb.ListPromptsRequest(page_size=1000, page_token=token),
            metadata=metadata,
            timeout=CALL_TIMEOUT_SECONDS,
        )
        stored.update(p.request_id for p in page.prompts if p.request_id)
        token = page.next_page_token
        if not token:
            return stored


def _mint(user: str, settings: Any) -> str:
    """A short-lived token for the user, signed like `depot token` signs one."""
    from cli import development
    from services.common.auth import mint_token

    secret = settings.jwt_secret or development.recall(settings.data_dir)
    if not secret:
        sys.exit(
            "depot prompts import: set DEPOT_JWT_SECRET, or run it where `depot up` keeps its data"
            f" (DEPOT_DATA_DIR={settings.data_dir} holds no development secret)"
        )
    if not 1 <= len(user) <= rules.MAX_NAME_CHARS or not user.isprintable():
        sys.exit(f"depot prompts import: --user must be 1 to {rules.MAX_NAME_CHARS} printable characters")
    return mint_token(
        secret=secret, user_id=user, audience=settings.jwt_audience, ttl_seconds=TOKEN_TTL_SECONDS
    )
