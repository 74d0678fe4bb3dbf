"""The routes the seed applications' clients already call, with their response shapes (seeds 001, 002)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response

from gateway import schemas, views
from gateway.auth import bearer_token
from gateway.responses import Json
from gateway.routes.prompts import ERRORS, effectiveness, submit_feedback

router = APIRouter(tags=["seed compatibility"])


def _seed_effectiveness(stats: dict[str, Any]) -> dict[str, Any]:
    # Seed 002's clients read `effectiveness` (the win rate) per agent beside seed 001's keys.
    agents = {
        name: {**figures, "effectiveness": figures["win_rate"]} for name, figures in stats["agents"].items()
    }
    return {"success": True, "basis": stats["basis"], "effectiveness": agents}


@router.get("/api/agents/effectiveness", responses=ERRORS)
async def seed_agents_effectiveness(
    request: Request, token: str = Depends(bearer_token), basis: Literal["scores", "feedback"] = "scores"
) -> Response:
    """Seed 001: agent effectiveness from judge scores, as `{"success": true, "effectiveness": {...}}`."""
    return Json(_seed_effectiveness(await effectiveness(request, token, basis)))


@router.get("/api/storage/agent-effectiveness", responses=ERRORS)
async def seed_storage_agent_effectiveness(
    request: Request, token: str = Depends(bearer_token), basis: Literal["scores", "feedback"] = "feedback"
) -> Response:
    """Seed 002: agent effectiveness from user feedback, in the same wrapper."""
    return Json(_seed_effectiveness(await effectiveness(request, token, basis)))


@router.post(
    "/prompts/feedback",
    status_code=201,
    responses={200: {"description": "Earlier feedback replaced"}, **ERRORS},
)
async def seed_prompt_feedback(
    body: schemas.FeedbackIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Seed 002: feedback on one's own request, answered `{"success": true, "feedback": {...}}`."""
    reply = await submit_feedback(body, request, token)
    return Json(
        {"success": True, "feedback": views.feedback(reply.feedback)},
        status_code=201 if reply.created else 200,
    )
