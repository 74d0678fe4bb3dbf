"""Protobuf messages of the prompts service as the JSON the REST surface returns."""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from depot.prompts.v1 import prompts_pb2 as pb
from services.common.json_values import struct_dict

USER_CHOICE_NAMES = {
    pb.USER_CHOICE_ORIGINAL: "original",
    pb.USER_CHOICE_SINGLE: "single",
    pb.USER_CHOICE_MULTI: "multi",
}
USER_CHOICE_VALUES = {v: k for k, v in USER_CHOICE_NAMES.items()}
LABEL_NAMES = {
    pb.SECURITY_LABEL_SAFE: "safe",
    pb.SECURITY_LABEL_SUSPICIOUS: "suspicious",
    pb.SECURITY_LABEL_MALICIOUS: "malicious",
}
LABEL_VALUES = {v: k for k, v in LABEL_NAMES.items()}
BASIS_VALUES = {"scores": pb.EFFECTIVENESS_BASIS_SCORES, "feedback": pb.EFFECTIVENESS_BASIS_FEEDBACK}


def rfc3339(ts: timestamp_pb2.Timestamp) -> str:
    return ts.ToJsonString()


def scores(message: pb.Scores) -> dict[str, float]:
    return {
        "clarity": message.clarity,
        "specificity": message.specificity,
        "actionability": message.actionability,
        "structure": message.structure,
        "context_use": message.context_use,
        "total": message.total,
    }


def version(message: pb.Version) -> dict[str, Any]:
    return {
        "version_no": message.version_no,
        "text": message.text,
        "source": message.source,
        "explanation": struct_dict(message.explanation)  # whole numbers as integers again
        if message.HasField("explanation")
        else None,
        "parent_version_no": message.parent_version_no or None,
        "scores": scores(message.scores) if message.HasField("scores") else None,
        "created_at": rfc3339(message.create_time),
    }


def prompt(message: pb.Prompt) -> dict[str, Any]:
    return {
        "id": message.id,
        "request_id": message.request_id or None,
        "agent_type": message.agent_type or None,
        "original_text": message.original_text,
        "revision": message.revision,
        "best_version_no": message.best_version_no or None,
        "version_count": message.version_count,
        "versions": [version(v) for v in message.versions],
        "created_at": rfc3339(message.create_time),
        "updated_at": rfc3339(message.update_time),
    }


def feedback(message: pb.Feedback) -> dict[str, Any]:
    return {
        "id": message.id,
        "request_id": message.request_id,
        "prompt_id": message.prompt_id,
        "user_choice": USER_CHOICE_NAMES.get(message.user_choice, "unspecified"),
        "judge_winner": message.judge_winner,
        "agent_winner": message.agent_winner,
        "judge_correct": message.judge_correct,
        "created_at": rfc3339(message.create_time),
        "updated_at": rfc3339(message.update_time),
    }


def security_scan(message: pb.SecurityScan) -> dict[str, Any]:
    return {
        "id": message.id,
        "input_text": message.input_text,
        "risk_score": message.risk_score,
        "label": LABEL_NAMES.get(message.label, "unspecified"),
        "created_at": rfc3339(message.create_time),
    }


def agent_stats(message: pb.AgentStats, *, basis: str) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "wins": message.wins,
        "total": message.total,
        "win_rate": message.win_rate,
        "avg_score": message.avg_score if message.HasField("avg_score") else None,
    }
    if basis == "feedback":
        stats["judge_wins"] = message.judge_wins
        stats["judge_agreement"] = message.judge_agreement if message.HasField("judge_agreement") else None
    return stats


def effectiveness(message: pb.GetAgentEffectivenessResponse, *, basis: str) -> dict[str, Any]:
    return {"basis": basis, "agents": {a.agent: agent_stats(a, basis=basis) for a in message.agents}}
