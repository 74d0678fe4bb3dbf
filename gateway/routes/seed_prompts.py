"""The routes the seed applications' clients already call, with their response shapes (seeds 001, 002)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from gateway.auth import bearer_token
from gateway.models import prompts as m
from gateway.responses import Json
from gateway.routes.prompts import effectiveness, submit_feedback
from gateway.routes.shared import ERRORS

router = APIRouter(tags=["seed compatibility"])


@router.get("/api/agents/effectiveness", response_model=m.SeedEffectivenessOut, responses=ERRORS)
async def seed_agents_effectiveness(
    request: Request, token: str = Depends(bearer_token), basis: m.Basis = "scores"
) -> Response:
    """Seed 001: agent effectiveness from judge scores, as `{"success": true, "effectiveness": {...}}`."""
    return Json(m.SeedEffectivenessOut.from_proto(await effectiveness(request, token, basis), basis=basis))


@router.get("/api/storage/agent-effectiveness", response_model=m.SeedEffectivenessOut, responses=ERRORS)
async def seed_storage_agent_effectiveness(
    request: Request, token: str = Depends(bearer_token), basis: m.Basis = "feedback"
) -> Response:
    """Seed 002: agent effectiveness from user feedback, in the same wrapper."""
    return Json(m.SeedEffectivenessOut.from_proto(await effectiveness(request, token, basis), basis=basis))


@router.post(
    "/prompts/feedback",
    status_code=201,
    response_model=m.SeedFeedbackOut,
    responses={200: {"model": m.SeedFeedbackOut, "description": "Earlier feedback replaced"}, **ERRORS},
)
async def seed_prompt_feedback(
    body: m.FeedbackIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Seed 002: feedback on one's own request, answered `{"success": true, "feedback": {...}}`."""
    reply = await submit_feedback(body, request, token)
    return Json(m.SeedFeedbackOut.from_proto(reply.feedback), status_code=201 if reply.created else 200)
