"""Use cases of the prompts domain. Plain Python over the repositories: no grpc, no commits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.common.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from services.common.ids import parse_id
from services.common.pagination import Page, decode_cursor, page_size, paged
from services.prompts import rules
from services.prompts.analytics_repository import AnalyticsRepository
from services.prompts.datasets import DATASETS, DatasetQuery
from services.prompts.fine_tune import FINE_TUNE, FineTune
from services.prompts.repository import PromptsRepository


@dataclass(frozen=True)
class PromptView:
    """A prompt row with its versions (each a row with its score columns)."""

    prompt: Any
    versions: Sequence[Any]


async def create_prompt(
    repo: PromptsRepository,
    *,
    owner: str,
    request_id: str,
    agent_type: str,
    original_text: str,
    versions: Sequence[rules.NewVersion],
    max_prompt_bytes: int,
) -> tuple[PromptView, bool]:
    """Creates a prompt with its versions and scores; the same request_id with the same body returns
    the existing prompt, with another body it is refused (the idempotency-key rule)."""
    rules.require_text(original_text, "original_text")
    request = rules.optional_name(request_id, "request_id")
    kind = rules.optional_name(agent_type, "agent_type")
    rules.check_new_versions(versions)
    size = rules.prompt_size(original_text, versions)
    rules.check_prompt_size(size, limit=max_prompt_bytes)
    # The fingerprint tells a retry from a reuse of its request_id; without one it is never read.
    fingerprint = (
        rules.request_fingerprint(agent_type=kind, original_text=original_text, versions=versions)
        if request is not None
        else None
    )
    totals = {no: v.scores.total for no, v in enumerate(versions, start=1) if v.scores is not None}
    created = await repo.create_prompt(
        rules.NewPrompt(
            owner=owner,
            request_id=request,
            agent_type=kind,
            original_text=original_text,
            best_version_no=rules.best_version(totals),
            request_hash=fingerprint,
            size_bytes=size,
            versions=versions,
        )
    )
    if created is not None:
        return PromptView(*created), True
    assert request is not None  # only a request_id can conflict
    existing = await repo.prompt_with_versions_by_request_id(owner=owner, request_id=request)
    if existing is None:  # deleted between the two statements
        raise NotFound(f"no prompt with request_id {request!r}")
    stored = existing[0].request_hash
    if stored is not None and stored != fingerprint:
        raise AlreadyExists(
            f"request_id {request!r} was already used for prompt {existing[0].id} with a different body;"
            " send the same body to get that prompt, or use a new request_id",
            reason="REQUEST_ID_REUSED",
            field="request_id",
        )
    return PromptView(*existing), False


async def get_prompt(repo: PromptsRepository, *, owner: str | None, prompt_id: str) -> PromptView:
    """One of the owner's prompts with its versions; any user's when owner is None (an admin's export)."""
    key = parse_id(prompt_id, "prompt")
    row = await (
        repo.get_prompt(owner=owner, prompt_id=key)
        if owner is not None
        else repo.get_any_prompt(prompt_id=key)
    )
    if row is None:
        raise NotFound(f"no prompt with id {prompt_id!r}")
    return PromptView(row, await repo.list_versions(prompt_id=row.id))


async def list_prompts(
    repo: PromptsRepository, *, owner: str, size: int, token: str, text_contains: str, agent_type: str
) -> Page:
    """The owner's prompts, newest first."""
    limit = page_size(size)
    rows = await repo.list_prompts(
        owner=owner,
        limit=limit + 1,
        after=decode_cursor(token),
        text_contains=text_contains or None,
        agent_type=agent_type or None,
    )
    return paged(rows, limit)


async def delete_prompt(repo: PromptsRepository, *, owner: str, prompt_id: str) -> None:
    """Deletes the prompt with everything that depends on it."""
    if not await repo.delete_prompt(owner=owner, prompt_id=parse_id(prompt_id, "prompt")):
        raise NotFound(f"no prompt with id {prompt_id!r}")


async def append_version(
    repo: PromptsRepository, *, owner: str, prompt_id: str, version: rules.NewVersion, max_prompt_bytes: int
) -> Any:
    """Appends a version numbered by the server, within the prompt's size limit; returns the version
    row with the new revision."""
    pid = parse_id(prompt_id, "prompt")
    rules.check_new_version(version, field="version", existing_versions=None)
    if version.scores is not None:
        raise InvalidArgument("set a new version's scores with SetScores", field="version.scores")
    row = await repo.append_version(
        owner=owner,
        prompt_id=pid,
        text_=version.text,
        source=version.source,
        explanation=version.explanation,
        parent_version_no=version.parent_version_no,
        added_bytes=version.size_bytes,
        max_bytes=max_prompt_bytes,
    )
    if row is not None:
        return row
    prompt = await repo.get_prompt(owner=owner, prompt_id=pid)
    if prompt is None:
        raise NotFound(f"no prompt with id {prompt_id!r}")
    rules.check_prompt_size(
        prompt.size_bytes + version.size_bytes, limit=max_prompt_bytes, prompt=f"prompt {prompt_id}"
    )
    raise InvalidArgument(
        f"version.parent_version_no {version.parent_version_no} names no version of this prompt",
        field="version.parent_version_no",
    )


async def set_scores(
    repo: PromptsRepository, *, owner: str, prompt_id: str, version_no: int, scores: rules.ScoreSet
) -> tuple[Any, Any]:
    """Stores a version's scores and moves the best head; returns (scores row, head row)."""
    pid = parse_id(prompt_id, "prompt")
    locked = await repo.lock_prompt(owner=owner, prompt_id=pid)
    if locked is None:
        raise NotFound(f"no prompt with id {prompt_id!r}")
    if not 1 <= version_no <= locked.version_count:
        raise NotFound(f"prompt {prompt_id} has no version {version_no}")
    stored = await repo.upsert_scores(prompt_id=pid, version_no=version_no, scores=scores.as_dict())
    return stored, await repo.refresh_best_head(owner=owner, prompt_id=pid)


async def submit_feedback(
    repo: PromptsRepository,
    *,
    owner: str,
    request_id: str,
    user_choice: str,
    judge_winner: str,
    agent_winner: str,
) -> Any:
    """Stores feedback on one of the owner's own requests; judge_correct is derived."""
    rules.check_feedback(
        request_id=request_id, user_choice=user_choice, judge_winner=judge_winner, agent_winner=agent_winner
    )
    row = await repo.upsert_feedback(
        owner=owner,
        request_id=request_id,
        user_choice=user_choice,
        judge_winner=judge_winner,
        agent_winner=agent_winner,
    )
    if row is None:
        raise NotFound(f"no prompt with request_id {request_id!r}")
    return row


async def list_feedback(
    repo: PromptsRepository, *, owner: str, size: int, token: str, request_id: str
) -> Page:
    """The owner's feedback, newest first."""
    limit = page_size(size)
    rows = await repo.list_feedback(
        owner=owner, limit=limit + 1, after=decode_cursor(token), request_id=request_id or None
    )
    return paged(rows, limit)


async def record_security_scan(
    repo: PromptsRepository, *, owner: str, input_text: str, risk_score: float, label: str
) -> Any:
    """Records a scan."""
    rules.check_security_scan(input_text=input_text, risk_score=risk_score, label=label)
    return await repo.insert_security_scan(
        owner=owner, input_text=input_text, risk_score=risk_score, label=label
    )


async def list_security_scans(repo: PromptsRepository, *, owner: str, size: int, token: str) -> Page:
    """The owner's scans, newest first."""
    limit = page_size(size)
    return paged(
        await repo.list_security_scans(owner=owner, limit=limit + 1, after=decode_cursor(token)), limit
    )


async def agent_effectiveness(
    repo: AnalyticsRepository, *, owner: str, basis: str
) -> Sequence[dict[str, Any]]:
    """Per-agent wins, totals, win rates, mean scores (and judge agreement on the feedback basis)."""
    if basis not in ("scores", "feedback"):
        raise InvalidArgument("basis must be scores or feedback", field="basis")
    return await repo.effectiveness(owner=owner, basis=basis)


def dataset_scope(*, owner: str, is_admin: bool, all_users: bool) -> str | None:
    """The owner whose rows a dataset holds; None means every user's (admins only)."""
    if not all_users:
        return owner
    if not is_admin:
        raise PermissionDenied("only an admin may read every user's rows", field="all_users")
    return None


def check_dataset(name: str) -> str:
    if name not in DATASETS:
        raise InvalidArgument(f"dataset must be one of {', '.join(DATASETS)}", field="dataset")
    return name


def check_datasets(names: Sequence[str]) -> list[str]:
    """One or more known datasets, each named once (the fine-tune dataset among them)."""
    if not names:
        raise InvalidArgument("datasets must name at least one dataset", field="datasets")
    if len(set(names)) != len(names):
        raise InvalidArgument("datasets must name each dataset at most once", field="datasets")
    return [name if name == FINE_TUNE else check_dataset(name) for name in names]


def dataset_query(name: str, fine_tune: FineTune) -> DatasetQuery:
    """The definition of a dataset checked by check_datasets; the fine-tune one's depends on its options."""
    return fine_tune.query() if name == FINE_TUNE else DATASETS[name]


async def dataset_header(
    analytics: AnalyticsRepository, repo: PromptsRepository, *, dataset: str, owner: str | None
) -> tuple[list[str], str, datetime]:
    """Columns, revision and snapshot time; call first in the repeatable-read transaction."""
    [columns], revision, snapshot = await datasets_header(
        analytics, repo, datasets=[DATASETS[dataset]], owner=owner
    )
    return columns[0], revision, snapshot


async def datasets_header(
    analytics: AnalyticsRepository,
    repo: PromptsRepository,
    *,
    datasets: Sequence[DatasetQuery],
    owner: str | None,
) -> tuple[list[tuple[list[str], list[str]]], str, datetime]:
    """Each dataset's column names and kinds, the revision and the snapshot time; call first in the
    repeatable-read transaction, so that every dataset read after it shares the one snapshot."""
    snapshot = await analytics.snapshot_time()
    revision = await repo.dataset_revision(owner=owner)
    all_users = owner is None
    columns = [
        (d.column_names(all_users=all_users), list(d.column_kinds(all_users=all_users))) for d in datasets
    ]
    return columns, revision, snapshot


def dataset_rows(
    analytics: AnalyticsRepository, *, dataset: str, owner: str | None, query: DatasetQuery | None = None
) -> AsyncIterator[list[Any]]:
    return analytics.stream_rows(dataset=dataset, owner=owner, query=query)
