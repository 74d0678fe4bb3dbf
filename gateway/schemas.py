"""Request and response bodies of the REST surface (they also make /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from services.common.json_values import JsonValueError, check_json_value

# Version numbers travel as protobuf int32.
INT32_MAX = 2**31 - 1


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """The bounds of services.common.json_values, checked before the value becomes a protobuf Struct
    (whose numbers are doubles: an integer beyond 2^53 would be changed, not refused)."""
    try:
        check_json_value(value, field="")
    except JsonValueError as exc:
        # The error handler appends `path` to the field's own location: versions.0.explanation.a.b[3].
        raise PydanticCustomError("json_value", exc.problem, {"path": exc.path}) from None
    return value


# A free-form JSON object (an explanation, export options): at most 32 levels, finite numbers,
# integers within ±2^53, keys of at most 256 characters.
JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]


class Body(BaseModel):
    """Request bodies: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ScoresIn(Body):
    clarity: float = Field(ge=0, le=10)
    specificity: float = Field(ge=0, le=10)
    actionability: float = Field(ge=0, le=10)
    structure: float = Field(ge=0, le=10)
    context_use: float = Field(ge=0, le=10)


class VersionIn(Body):
    text: str = Field(min_length=1, max_length=100_000)
    source: str = Field(min_length=1, max_length=255)
    explanation: JsonObject | None = None
    parent_version_no: int | None = Field(default=None, ge=1, le=INT32_MAX)
    scores: ScoresIn | None = None


class NewVersionIn(Body):
    text: str = Field(min_length=1, max_length=100_000)
    source: str = Field(min_length=1, max_length=255)
    explanation: JsonObject | None = None
    parent_version_no: int | None = Field(default=None, ge=1, le=INT32_MAX)


class PromptIn(Body):
    request_id: str | None = Field(default=None, min_length=1, max_length=255)
    agent_type: str | None = Field(default=None, min_length=1, max_length=255)
    original_text: str = Field(min_length=1, max_length=100_000)
    versions: list[VersionIn] = Field(default_factory=list, max_length=100)


class FeedbackIn(Body):
    request_id: str = Field(min_length=1, max_length=255)
    user_choice: Literal["original", "single", "multi"]
    judge_winner: str = Field(min_length=1, max_length=255)
    agent_winner: str = Field(min_length=1, max_length=255)


class SecurityScanIn(Body):
    input_text: str = Field(min_length=1, max_length=100_000)
    risk_score: float = Field(ge=0, le=1)
    label: Literal["safe", "suspicious", "malicious"]


class ScoresOut(BaseModel):
    clarity: float
    specificity: float
    actionability: float
    structure: float
    context_use: float
    total: float


class VersionOut(BaseModel):
    version_no: int
    text: str
    source: str
    explanation: dict[str, Any] | None
    parent_version_no: int | None
    scores: ScoresOut | None
    created_at: str


class PromptOut(BaseModel):
    id: str
    request_id: str | None
    agent_type: str | None
    original_text: str
    revision: int
    best_version_no: int | None
    version_count: int
    versions: list[VersionOut]
    created_at: str
    updated_at: str


class PromptList(BaseModel):
    items: list[PromptOut]
    next_page_token: str


class AppendedVersionOut(VersionOut):
    revision: int


class ScoreResultOut(ScoresOut):
    best_version_no: int | None
    revision: int


class FeedbackOut(BaseModel):
    id: str
    request_id: str
    prompt_id: str
    user_choice: str
    judge_winner: str
    agent_winner: str
    judge_correct: bool
    created_at: str
    updated_at: str


class FeedbackList(BaseModel):
    items: list[FeedbackOut]
    next_page_token: str


class AgentStatsOut(BaseModel):
    wins: int
    total: int
    win_rate: float
    avg_score: float | None
    judge_agreement: float | None = None
    judge_wins: int | None = None


class EffectivenessOut(BaseModel):
    basis: Literal["scores", "feedback"]
    agents: dict[str, AgentStatsOut]


class SecurityScanOut(BaseModel):
    id: str
    input_text: str
    risk_score: float
    label: str
    created_at: str


class SecurityScanList(BaseModel):
    items: list[SecurityScanOut]
    next_page_token: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]]


class ErrorOut(BaseModel):
    error: ErrorDetail
