"""One user's data of every kind, each text carrying a marker no other user ever sends."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.support.system import User

SCORES = ("clarity", "specificity", "actionability", "structure", "context_use")


def scores(each: float) -> dict[str, float]:
    return dict.fromkeys(SCORES, each)


@dataclass
class World:
    """Ids of every resource one user owns; `marker` appears in all of their texts and bytes."""

    owner: User
    marker: str
    prompt_id: str
    request_id: str
    chat_id: str
    filename: str
    artifact_id: str
    export_id: str
    link_token: str
    agent: str


def build_world(user: User) -> World:
    """A prompt with scored versions, feedback, a scan, a chat file, an artifact, an export and a link."""
    marker = f"Secret{uuid.uuid4().hex}"
    agent = f"agent{uuid.uuid4().hex[:8]}"
    request_id = f"req-{uuid.uuid4().hex}"
    prompt = user.create_prompt(
        request_id=request_id,
        agent_type=f"type {marker}",
        original_text=f"Original {marker}",
        versions=[
            {"text": f"First {marker}", "source": agent, "scores": scores(6), "explanation": {"why": marker}},
            {"text": f"Second {marker}", "source": agent, "parent_version_no": 1, "scores": scores(8)},
        ],
    )
    http = user.http
    _ok(http.post("/api/v1/feedback", json=_feedback(request_id, agent)))
    _ok(
        http.post(
            "/api/v1/security-scans",
            json={"input_text": f"scan {marker}", "risk_score": 0.5, "label": "safe"},
        )
    )
    chat_id, filename = "shared-chat", "notes.txt"
    _ok(
        http.put(
            f"/api/v1/chats/{chat_id}/files/{filename}",
            content=f"file {marker}".encode(),
            headers={"Content-Type": "text/plain"},
            params={"description": f"description {marker}", "metadata": f'{{"m": "{marker}"}}'},
        )
    )
    artifact = _ok(
        http.post(
            f"/api/v1/chats/{chat_id}/artifacts",
            json={"title": f"title {marker}", "columns": ["a", "b"], "rows": [[marker, 1]]},
        )
    )
    export = _ok(http.post("/api/v1/exports", json={"source": f"prompts/{prompt['id']}", "format": "json"}))
    link = _ok(http.post(f"/api/v1/exports/{export['id']}/links", json={"expires_in": 600}))
    return World(
        owner=user,
        marker=marker,
        prompt_id=prompt["id"],
        request_id=request_id,
        chat_id=chat_id,
        filename=filename,
        artifact_id=artifact["id"],
        export_id=export["id"],
        link_token=link["token"],
        agent=agent,
    )


def _feedback(request_id: str, agent: str) -> dict[str, str]:
    return {"request_id": request_id, "user_choice": "multi", "judge_winner": agent, "agent_winner": agent}


def _ok(reply: Any) -> Any:
    assert 200 <= reply.status_code < 300, f"expected 2xx, got {reply.status_code}: {reply.text}"
    return reply.json()
