"""The prompts domain's REST bodies: prompts, versions, scores, feedback, effectiveness, scans."""

from __future__ import annotations

from typing import Any

from google.protobuf.struct_pb2 import Struct
from pydantic import BaseModel, ConfigDict, Field

from depot.prompts.v1 import prompts_pb2 as pb
from gateway.errors import ApiError
from gateway.models.common import INT32_MAX, Body, Choices, JsonObject, Out, Page, rfc3339
from services.common.json_values import struct_dict
from services.common.limits import (
    MAX_MODEL_CONFIG_BYTES,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_VERSIONS_PER_CREATE,
    RISK_MAX,
    RISK_MIN,
    SCORE_MAX,
    SCORE_MIN,
)

# The fixed values the schema states, so a client generator knows them; the service checks them.
USER_CHOICES = Choices(pb.UserChoice, "USER_CHOICE_")
SECURITY_LABELS = Choices(pb.SecurityLabel, "SECURITY_LABEL_")
BASES = Choices(pb.EffectivenessBasis, "EFFECTIVENESS_BASIS_")
UserChoice = USER_CHOICES.type
SecurityLabel = SECURITY_LABELS.type
Basis = BASES.type
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
MODEL_CONFIG = (
    f"Any JSON object of at most {MAX_MODEL_CONFIG_BYTES // 1024} KiB: "
    "the model, temperature, response format… the text is for."
)


class ScoresIn(Body):
    """Judge scores: five criteria, each from 0 to 10; `total` is their sum, and the version with the
    highest total is the prompt's best head (the earliest on ties)."""

    clarity: float = Field(ge=SCORE_MIN, le=SCORE_MAX)
    specificity: float = Field(ge=SCORE_MIN, le=SCORE_MAX)
    actionability: float = Field(ge=SCORE_MIN, le=SCORE_MAX)
    structure: float = Field(ge=SCORE_MIN, le=SCORE_MAX)
    context_use: float = Field(ge=SCORE_MIN, le=SCORE_MAX)

    def to_proto(self) -> pb.Scores:
        return self.into(pb.Scores())

    def into(self, message: pb.Scores) -> pb.Scores:
        message.clarity, message.specificity, message.actionability = (
            self.clarity,
            self.specificity,
            self.actionability,
        )
        message.structure, message.context_use = self.structure, self.context_use
        return message


class NewVersionIn(Body):
    """A version appended to a prompt; the server gives it the next number."""

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    source: str = Field(min_length=1, max_length=MAX_NAME_CHARS, description=SOURCE, examples=["multi"])
    explanation: JsonObject | None = Field(default=None, description=EXPLANATION)
    parent_version_no: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="An existing version of the prompt it derives from."
    )
    # `model_config` is pydantic's own attribute name, so the field takes it as its alias.
    config: JsonObject | None = Field(default=None, alias="model_config", description=MODEL_CONFIG)

    def to_proto(self) -> pb.NewVersion:
        return self.into(pb.NewVersion())

    def into(self, message: pb.NewVersion) -> pb.NewVersion:
        """Fills `message` (one added to a request's repeated field in place: no copy of it)."""
        message.text, message.source = self.text, self.source
        if self.parent_version_no is not None:
            message.parent_version_no = self.parent_version_no
        if self.explanation is not None:
            _struct(message.explanation, "explanation", self.explanation)
        if self.config is not None:
            _struct(message.model_config, "model_config", self.config)
        return message


def _struct(struct: Struct, name: str, value: dict[str, Any]) -> None:
    try:
        struct.update(value)
    except (OverflowError, ValueError) as exc:  # a number no double holds
        raise ApiError(400, "INVALID_ARGUMENT", f"{name}: {exc}") from None


class VersionIn(NewVersionIn):
    """A version created with its prompt, numbered by its place in the list."""

    parent_version_no: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="The version it derives from: one listed before it."
    )
    scores: ScoresIn | None = None
    # A prompt's first versions carry no model config: append one, or restore a version that has one.
    config: None = Field(default=None, alias="model_config", description="Not taken at create.")

    def into(self, message: pb.NewVersion) -> pb.NewVersion:
        super().into(message)
        if self.scores is not None:
            message.scores.SetInParent()  # present even when every criterion is 0
            self.scores.into(message.scores)
        return message


class PromptIn(Body):
    """A prompt, with any versions (numbered 1, 2, … in order) and their scores, created at once."""

    request_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_NAME_CHARS,
        description="The client's id of the request, unique per user; feedback names the prompt by it.",
    )
    agent_type: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    original_text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    versions: list[VersionIn] = Field(default_factory=list, max_length=MAX_VERSIONS_PER_CREATE)

    def to_proto(self) -> pb.CreatePromptRequest:
        message = pb.CreatePromptRequest(original_text=self.original_text)
        if self.request_id is not None:
            message.request_id = self.request_id
        if self.agent_type is not None:
            message.agent_type = self.agent_type
        for version in self.versions:
            version.into(message.versions.add())
        return message


class FeedbackIn(Body):
    """Feedback on one of the caller's prompts, by its request_id; a second one replaces the first (200)."""

    request_id: str = Field(min_length=1, max_length=MAX_NAME_CHARS, description="The prompt's request_id.")
    user_choice: UserChoice = Field(description=USER_CHOICE)
    judge_winner: str = Field(
        min_length=1, max_length=MAX_NAME_CHARS, description=JUDGE_WINNER, examples=["multi"]
    )
    agent_winner: str = Field(
        min_length=1, max_length=MAX_NAME_CHARS, description=AGENT_WINNER, examples=["multi"]
    )

    def to_proto(self) -> pb.SubmitFeedbackRequest:
        return pb.SubmitFeedbackRequest(
            request_id=self.request_id,
            user_choice=USER_CHOICES.numbers[self.user_choice],
            judge_winner=self.judge_winner,
            agent_winner=self.agent_winner,
        )


class SecurityScanIn(Body):
    input_text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    risk_score: float = Field(ge=RISK_MIN, le=RISK_MAX)
    label: SecurityLabel = Field(description=SECURITY_LABEL)

    def to_proto(self) -> pb.RecordSecurityScanRequest:
        return pb.RecordSecurityScanRequest(
            input_text=self.input_text, risk_score=self.risk_score, label=SECURITY_LABELS.numbers[self.label]
        )


class ScoresOut(Out):
    clarity: float
    specificity: float
    actionability: float
    structure: float
    context_use: float
    total: float

    @staticmethod
    def fields(message: pb.Scores) -> dict[str, float]:
        return {
            "clarity": message.clarity,
            "specificity": message.specificity,
            "actionability": message.actionability,
            "structure": message.structure,
            "context_use": message.context_use,
            "total": message.total,
        }


class VersionOut(Out):
    version_no: int
    text: str
    source: str
    explanation: dict[str, Any] | None
    parent_version_no: int | None
    scores: ScoresOut | None
    created_at: str
    # `model_config` is pydantic's own attribute name, so the field takes it as its alias, and the body
    # is written by its aliases (gateway/responses.py serializes models as they are).
    config: dict[str, Any] | None = Field(alias="model_config", description=MODEL_CONFIG)

    model_config = ConfigDict(serialize_by_alias=True)

    @staticmethod
    def fields(message: pb.Version) -> dict[str, Any]:
        return {
            "version_no": message.version_no,
            "text": message.text,
            "source": message.source,
            "explanation": struct_dict(message.explanation)  # whole numbers as integers again
            if message.HasField("explanation")
            else None,
            "parent_version_no": message.parent_version_no or None,
            "scores": ScoresOut.fields(message.scores) if message.HasField("scores") else None,
            "created_at": rfc3339(message.create_time),
            "model_config": struct_dict(message.model_config) if message.HasField("model_config") else None,
        }


class PromptOut(Out):
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

    @staticmethod
    def fields(message: pb.Prompt) -> dict[str, Any]:
        return {
            "id": message.id,
            "request_id": message.request_id or None,
            "agent_type": message.agent_type or None,
            "original_text": message.original_text,
            "revision": message.revision,
            "best_version_no": message.best_version_no or None,
            "version_count": message.version_count,
            "versions": [VersionOut.fields(v) for v in message.versions],
            "created_at": rfc3339(message.create_time),
            "updated_at": rfc3339(message.update_time),
        }


class PromptList(Page[PromptOut]):
    repeated = "prompts"


class AppendedVersionOut(VersionOut):
    revision: int

    @classmethod
    def from_proto(cls, reply: pb.AppendVersionResponse) -> AppendedVersionOut:
        return cls.model_validate({**VersionOut.fields(reply.version), "revision": reply.revision})


class ScoreResultOut(ScoresOut):
    best_version_no: int | None
    revision: int

    @classmethod
    def from_proto(cls, reply: pb.SetScoresResponse) -> ScoreResultOut:
        return cls.model_validate(
            {
                **ScoresOut.fields(reply.scores),
                "best_version_no": reply.best_version_no or None,
                "revision": reply.revision,
            }
        )


class FeedbackOut(Out):
    id: str
    request_id: str
    prompt_id: str
    user_choice: UserChoice = Field(description=USER_CHOICE)
    judge_winner: str = Field(description=JUDGE_WINNER)
    agent_winner: str = Field(description=AGENT_WINNER)
    judge_correct: bool = Field(description=JUDGE_CORRECT)
    created_at: str
    updated_at: str

    @staticmethod
    def fields(message: pb.Feedback) -> dict[str, Any]:
        return {
            "id": message.id,
            "request_id": message.request_id,
            "prompt_id": message.prompt_id,
            "user_choice": USER_CHOICES.name(message.user_choice),
            "judge_winner": message.judge_winner,
            "agent_winner": message.agent_winner,
            "judge_correct": message.judge_correct,
            "created_at": rfc3339(message.create_time),
            "updated_at": rfc3339(message.update_time),
        }


class FeedbackList(Page[FeedbackOut]):
    repeated = "feedback"


class AgentStatsOut(Out):
    wins: int
    total: int
    win_rate: float
    avg_score: float | None
    judge_agreement: float | None = Field(default=None, description="On the feedback basis only.")
    judge_wins: int | None = Field(default=None, description="On the feedback basis only.")

    @staticmethod
    def fields(message: pb.AgentStats, *, basis: str) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "wins": message.wins,
            "total": message.total,
            "win_rate": message.win_rate,
            "avg_score": message.avg_score if message.HasField("avg_score") else None,
        }
        if basis == "feedback":
            stats["judge_wins"] = message.judge_wins
            stats["judge_agreement"] = (
                message.judge_agreement if message.HasField("judge_agreement") else None
            )
        return stats


class EffectivenessOut(BaseModel):
    basis: Basis
    agents: dict[str, AgentStatsOut]

    @classmethod
    def from_proto(cls, reply: pb.GetAgentEffectivenessResponse, *, basis: str) -> EffectivenessOut:
        agents = {a.agent: AgentStatsOut.fields(a, basis=basis) for a in reply.agents}
        return cls.model_validate({"basis": basis, "agents": agents})


class SecurityScanOut(Out):
    id: str
    input_text: str
    risk_score: float
    label: SecurityLabel = Field(description=SECURITY_LABEL)
    created_at: str

    @staticmethod
    def fields(message: pb.SecurityScan) -> dict[str, Any]:
        return {
            "id": message.id,
            "input_text": message.input_text,
            "risk_score": message.risk_score,
            "label": SECURITY_LABELS.name(message.label),
            "created_at": rfc3339(message.create_time),
        }


class SecurityScanList(Page[SecurityScanOut]):
    repeated = "scans"


class SeedAgentStatsOut(AgentStatsOut):
    effectiveness: float = Field(description="Seed 002's name for the win rate.")


class SeedEffectivenessOut(BaseModel):
    """Seeds 001/002: agent effectiveness wrapped as `{"success": true, "effectiveness": {...}}`."""

    success: bool
    basis: Basis
    effectiveness: dict[str, SeedAgentStatsOut]

    @classmethod
    def from_proto(cls, reply: pb.GetAgentEffectivenessResponse, *, basis: str) -> SeedEffectivenessOut:
        agents = {}
        for a in reply.agents:
            stats = AgentStatsOut.fields(a, basis=basis)
            agents[a.agent] = {**stats, "effectiveness": stats["win_rate"]}
        return cls.model_validate({"success": True, "basis": basis, "effectiveness": agents})


class SeedFeedbackOut(BaseModel):
    """Seed 002: feedback answered as `{"success": true, "feedback": {...}}`."""

    success: bool
    feedback: FeedbackOut

    @classmethod
    def from_proto(cls, message: pb.Feedback) -> SeedFeedbackOut:
        return cls.model_validate({"success": True, "feedback": FeedbackOut.fields(message)})
