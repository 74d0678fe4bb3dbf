"""Request and response bodies of the REST surface (they also make /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from services.common.json_values import JsonValueError, check_json_value

# Version numbers travel as protobuf int32.
INT32_MAX = 2**31 - 1

# The fixed values and rules the schema states, so a client generator knows them; the services check them.
UserChoice = Literal["original", "single", "multi"]
SecurityLabel = Literal["safe", "suspicious", "malicious"]
NO_AGENT = "none"
USER_CHOICE = "What the user kept: `original` (their own text), `single` or `multi` (an agent's version)."
AGENT_WINNER = (
    "The agent whose version the user chose (a version's `source`); "
    f"must be `{NO_AGENT}` when `user_choice` is `original`."
)
JUDGE_WINNER = f"The agent the judge preferred (a version's `source`), or `{NO_AGENT}`."
JUDGE_CORRECT = "Derived, never taken from input: `judge_winner == agent_winner`."
SECURITY_LABEL = "The scan's verdict."
SOURCE = "The agent that wrote the version; agent effectiveness is counted per source."
EXPLANATION = "Any JSON object: why the agent wrote this version."


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
    """Judge scores: five criteria, each from 0 to 10; `total` is their sum, and the version with the
    highest total is the prompt's best head (the earliest on ties)."""

    clarity: float = Field(ge=0, le=10)
    specificity: float = Field(ge=0, le=10)
    actionability: float = Field(ge=0, le=10)
    structure: float = Field(ge=0, le=10)
    context_use: float = Field(ge=0, le=10)


class VersionIn(Body):
    text: str = Field(min_length=1, max_length=100_000)
    source: str = Field(min_length=1, max_length=255, description=SOURCE, examples=["multi"])
    explanation: JsonObject | None = Field(default=None, description=EXPLANATION)
    parent_version_no: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="The version it derives from: one listed before it."
    )
    scores: ScoresIn | None = None


class NewVersionIn(Body):
    """A version appended to a prompt; the server gives it the next number."""

    text: str = Field(min_length=1, max_length=100_000)
    source: str = Field(min_length=1, max_length=255, description=SOURCE, examples=["multi"])
    explanation: JsonObject | None = Field(default=None, description=EXPLANATION)
    parent_version_no: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="An existing version of the prompt it derives from."
    )


class PromptIn(Body):
    """A prompt, with any versions (numbered 1, 2, … in order) and their scores, created at once."""

    request_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="The client's id of the request, unique per user; feedback names the prompt by it.",
    )
    agent_type: str | None = Field(default=None, min_length=1, max_length=255)
    original_text: str = Field(min_length=1, max_length=100_000)
    versions: list[VersionIn] = Field(default_factory=list, max_length=100)


class FeedbackIn(Body):
    """Feedback on one of the caller's prompts, by its request_id; a second one replaces the first (200)."""

    request_id: str = Field(min_length=1, max_length=255, description="The prompt's request_id.")
    user_choice: UserChoice = Field(description=USER_CHOICE)
    judge_winner: str = Field(min_length=1, max_length=255, description=JUDGE_WINNER, examples=["multi"])
    agent_winner: str = Field(min_length=1, max_length=255, description=AGENT_WINNER, examples=["multi"])


class SecurityScanIn(Body):
    input_text: str = Field(min_length=1, max_length=100_000)
    risk_score: float = Field(ge=0, le=1)
    label: SecurityLabel = Field(description=SECURITY_LABEL)


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
    user_choice: UserChoice = Field(description=USER_CHOICE)
    judge_winner: str = Field(description=JUDGE_WINNER)
    agent_winner: str = Field(description=AGENT_WINNER)
    judge_correct: bool = Field(description=JUDGE_CORRECT)
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
    label: SecurityLabel = Field(description=SECURITY_LABEL)
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
