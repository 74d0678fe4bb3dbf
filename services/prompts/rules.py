"""Validation rules and limits of the prompts domain: plain functions, no I/O."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.common.errors import InvalidArgument, ResourceExhausted
from services.common.json_values import check_json_value
from services.common.limits import (
    MAX_EXPLANATION_BYTES,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_VERSIONS_PER_CREATE,
    RISK_MAX,
    RISK_MIN,
    SCORE_MAX,
    SCORE_MIN,
)
from services.prompts.models import SCORE_CRITERIA

USER_CHOICES = ("original", "single", "multi")
SECURITY_LABELS = ("safe", "suspicious", "malicious")
NO_AGENT = "none"
# What a version costs a prompt's size beyond its text, source and explanation: its numbers, scores
# and times as a read sends them (about 100 bytes), rounded up.
VERSION_OVERHEAD_BYTES = 128


@dataclass(frozen=True)
class ScoreSet:
    clarity: float
    specificity: float
    actionability: float
    structure: float
    context_use: float

    @property
    def total(self) -> float:
        return self.clarity + self.specificity + self.actionability + self.structure + self.context_use

    def as_dict(self) -> dict[str, float]:
        return {c: getattr(self, c) for c in SCORE_CRITERIA}


@dataclass(frozen=True)
class NewVersion:
    text: str
    source: str
    explanation: dict[str, Any] | None = None
    parent_version_no: int | None = None
    scores: ScoreSet | None = None
    # The explanation's size as a read sends it (its encoded form), measured where it was decoded.
    explanation_bytes: int = 0

    @property
    def size_bytes(self) -> int:
        """What this version adds to its prompt's size."""
        return VERSION_OVERHEAD_BYTES + _utf8_len(self.text) + _utf8_len(self.source) + self.explanation_bytes


@dataclass(frozen=True)
class NewPrompt:
    """A checked prompt about to be created, with its versions (numbered 1, 2, … in order)."""

    owner: str
    request_id: str | None
    agent_type: str | None
    original_text: str
    best_version_no: int | None
    request_hash: bytes | None
    size_bytes: int
    versions: Sequence[NewVersion]


def require_text(value: str, field: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """A non-blank text of at most `limit` characters."""
    if not value or not value.strip():
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise InvalidArgument(f"{field} must be at most {limit} characters, got {len(value)}", field=field)
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return value


def optional_name(value: str, field: str) -> str | None:
    """An optional short name (request id, agent type): empty means absent."""
    if not value:
        return None
    return require_text(value, field, limit=MAX_NAME_CHARS)


def check_scores(scores: Mapping[str, float], field: str = "scores") -> ScoreSet:
    """Each criterion a finite number from 0 to 10."""
    for criterion in SCORE_CRITERIA:
        value = scores[criterion]
        if not math.isfinite(value) or not SCORE_MIN <= value <= SCORE_MAX:
            raise InvalidArgument(
                f"{field}.{criterion} must be between {SCORE_MIN:g} and {SCORE_MAX:g}, got {value:g}",
                field=f"{field}.{criterion}",
            )
    return ScoreSet(**{c: float(scores[c]) for c in SCORE_CRITERIA})


def check_explanation(explanation: dict[str, Any] | None, field: str) -> dict[str, Any] | None:
    if explanation is None:
        return None
    check_json_value(explanation, field=field, max_bytes=MAX_EXPLANATION_BYTES)
    size = len(json.dumps(explanation))
    if size > MAX_EXPLANATION_BYTES:
        raise InvalidArgument(
            f"{field} must be at most {MAX_EXPLANATION_BYTES} bytes of JSON, got {size}", field=field
        )
    if _has_nul(explanation):  # PostgreSQL's jsonb cannot hold U+0000 in a key or a string
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return explanation


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def check_new_version(version: NewVersion, *, field: str, existing_versions: int | None) -> NewVersion:
    """Validates a version about to become number existing_versions + 1.

    With existing_versions None (an append) the database checks that the parent exists.
    """
    require_text(version.text, f"{field}.text")
    require_text(version.source, f"{field}.source", limit=MAX_NAME_CHARS)
    check_explanation(version.explanation, f"{field}.explanation")
    parent = version.parent_version_no
    upper = existing_versions if existing_versions is not None else parent
    if parent is not None and (parent < 1 or upper is None or parent > upper):
        raise InvalidArgument(
            f"{field}.parent_version_no must name an earlier version (1 to {upper}), got {parent}",
            field=f"{field}.parent_version_no",
        )
    return version


def check_new_versions(versions: Sequence[NewVersion]) -> None:
    if len(versions) > MAX_VERSIONS_PER_CREATE:
        raise InvalidArgument(
            f"versions must hold at most {MAX_VERSIONS_PER_CREATE} entries, got {len(versions)}",
            field="versions",
        )
    for index, version in enumerate(versions):
        check_new_version(version, field=f"versions[{index}]", existing_versions=index)


def best_version(totals: Mapping[int, float]) -> int | None:
    """The best head: the version with the highest total score, the earliest on ties."""
    if not totals:
        return None
    return min(totals, key=lambda no: (-totals[no], no))


def check_feedback(*, request_id: str, user_choice: str, judge_winner: str, agent_winner: str) -> None:
    require_text(request_id, "request_id", limit=MAX_NAME_CHARS)
    if user_choice not in USER_CHOICES:
        raise InvalidArgument(f"user_choice must be one of {', '.join(USER_CHOICES)}", field="user_choice")
    require_text(judge_winner, "judge_winner", limit=MAX_NAME_CHARS)
    require_text(agent_winner, "agent_winner", limit=MAX_NAME_CHARS)
    if user_choice == "original" and agent_winner != NO_AGENT:
        raise InvalidArgument(
            f"agent_winner must be '{NO_AGENT}' when the user kept the original, got {agent_winner!r}",
            field="agent_winner",
        )


def check_security_scan(*, input_text: str, risk_score: float, label: str) -> None:
    require_text(input_text, "input_text")
    if not math.isfinite(risk_score) or not RISK_MIN <= risk_score <= RISK_MAX:
        raise InvalidArgument(
            f"risk_score must be between {RISK_MIN:g} and {RISK_MAX:g}, got {risk_score:g}",
            field="risk_score",
        )
    if label not in SECURITY_LABELS:
        raise InvalidArgument(f"label must be one of {', '.join(SECURITY_LABELS)}", field="label")


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def prompt_size(original_text: str, versions: Sequence[NewVersion]) -> int:
    """The size a new prompt starts with: its original text and its versions."""
    return _utf8_len(original_text) + sum(v.size_bytes for v in versions)


def check_prompt_size(size: int, *, limit: int, prompt: str = "the prompt") -> None:
    """A prompt may hold at most `limit` bytes, so that one message can always carry it whole."""
    if size > limit:
        raise ResourceExhausted(
            f"{prompt} would hold {size:,} bytes of text, sources and explanations,"
            f" more than the limit of {limit:,} per prompt; start a new prompt",
            reason="TOO_LARGE",
        )


def request_fingerprint(
    *, agent_type: str | None, original_text: str, versions: Sequence[NewVersion]
) -> bytes:
    """SHA-256 of a create request in canonical form: what "the same body" means for a request_id.

    Numbers are compared as numbers (5 and 5.0 are the same score), objects whatever their key
    order; the request_id itself is the key, so it is not part of the body.
    """
    body = {
        "agent_type": agent_type,
        "original_text": original_text,
        "versions": [
            {
                "text": v.text,
                "source": v.source,
                "explanation": v.explanation,
                "parent_version_no": v.parent_version_no,
                "scores": v.scores.as_dict() if v.scores is not None else None,
            }
            for v in versions
        ],
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=float)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).digest()
