"""REST routes of the prompts domain: prompts, versions, scores, feedback, effectiveness, scans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from depot.prompts.v1 import prompts_pb2 as pb
from gateway.auth import bearer_token
from gateway.models import prompts as m
from gateway.models.common import INT32_MAX, Digits
from gateway.responses import Json
from gateway.routes.shared import ERRORS, PageSize, PageToken, upstream
from services.common.limits import MAX_NAME_CHARS

router = APIRouter(prefix="/api/v1", tags=["prompts"])


@router.post(
    "/prompts",
    status_code=201,
    response_model=m.PromptOut,
    responses={
        200: {"model": m.PromptOut, "description": "The prompt with that request_id"},
        **ERRORS,
        409: {**ERRORS[400], "description": "The request_id was used with another body (REQUEST_ID_REUSED)"},
    },
)
async def create_prompt(body: m.PromptIn, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Creates a prompt with optional versions and scores in one transaction; a repeated request_id returns it."""
    gateway = upstream(request)
    reply = await gateway.call(gateway.prompts.CreatePrompt, body.to_proto(), token)
    return Json(m.PromptOut.fields(reply.prompt), status_code=201 if reply.created else 200)


@router.get("/prompts", response_model=m.PromptList, responses=ERRORS)
async def list_prompts(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
    q: str = Query(default="", max_length=1000, description="Text the original prompt contains"),
    agent_type: str = Query(default="", max_length=MAX_NAME_CHARS),
) -> Response:
    """The caller's prompts, newest first."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.prompts.ListPrompts,
        pb.ListPromptsRequest(
            page_size=page_size, page_token=page_token, text_contains=q, agent_type=agent_type
        ),
        token,
    )
    return Json(m.PromptList.fields(reply))


@router.get("/prompts/{prompt_id}", response_model=m.PromptOut, responses=ERRORS)
async def get_prompt(prompt_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """A prompt with its versions, scores and best head."""
    gateway = upstream(request)
    reply = await gateway.call(gateway.prompts.GetPrompt, pb.GetPromptRequest(id=prompt_id), token)
    return Json(m.PromptOut.fields(reply.prompt))


@router.delete("/prompts/{prompt_id}", status_code=204, responses=ERRORS)
async def delete_prompt(prompt_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Deletes a prompt with its versions, scores and feedback."""
    gateway = upstream(request)
    await gateway.call(gateway.prompts.DeletePrompt, pb.DeletePromptRequest(id=prompt_id), token)
    return Response(status_code=204)


@router.post(
    "/prompts/{prompt_id}/versions", status_code=201, response_model=m.AppendedVersionOut, responses=ERRORS
)
async def append_version(
    prompt_id: str, body: m.NewVersionIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Appends a version; the server assigns its number."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.prompts.AppendVersion,
        pb.AppendVersionRequest(prompt_id=prompt_id, version=body.to_proto()),
        token,
    )
    return Json(m.AppendedVersionOut.from_proto(reply), status_code=201)


@router.put(
    "/prompts/{prompt_id}/versions/{version_no}/score", response_model=m.ScoreResultOut, responses=ERRORS
)
async def set_scores(
    prompt_id: str,
    body: m.ScoresIn,
    request: Request,
    version_no: Annotated[Digits, Path(ge=1, le=INT32_MAX)],
    token: str = Depends(bearer_token),
) -> Response:
    """Sets a version's judge scores; the best head follows."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.prompts.SetScores,
        pb.SetScoresRequest(prompt_id=prompt_id, version_no=version_no, scores=body.to_proto()),
        token,
    )
    return Json(m.ScoreResultOut.from_proto(reply))


async def submit_feedback(body: m.FeedbackIn, request: Request, token: str) -> pb.SubmitFeedbackResponse:
    gateway = upstream(request)
    return await gateway.call(gateway.prompts.SubmitFeedback, body.to_proto(), token)  # type: ignore[no-any-return]


@router.post(
    "/feedback",
    status_code=201,
    response_model=m.FeedbackOut,
    responses={200: {"model": m.FeedbackOut, "description": "Earlier feedback replaced"}, **ERRORS},
)
async def post_feedback(body: m.FeedbackIn, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Feedback on one of the caller's own requests; a second submission replaces the first."""
    reply = await submit_feedback(body, request, token)
    return Json(m.FeedbackOut.from_proto(reply.feedback), status_code=201 if reply.created else 200)


@router.get("/feedback", response_model=m.FeedbackList, responses=ERRORS)
async def list_feedback(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
    request_id: str = Query(default="", max_length=MAX_NAME_CHARS),
) -> Response:
    """The caller's feedback, newest first."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.prompts.ListFeedback,
        pb.ListFeedbackRequest(page_size=page_size, page_token=page_token, request_id=request_id),
        token,
    )
    return Json(m.FeedbackList.from_proto(reply))


async def effectiveness(request: Request, token: str, basis: str) -> pb.GetAgentEffectivenessResponse:
    gateway = upstream(request)
    return await gateway.call(  # type: ignore[no-any-return]
        gateway.prompts.GetAgentEffectiveness,
        pb.GetAgentEffectivenessRequest(basis=m.BASES.numbers[basis]),
        token,
    )


@router.get("/agents/effectiveness", response_model=m.EffectivenessOut, responses=ERRORS)
async def get_effectiveness(
    request: Request, token: str = Depends(bearer_token), basis: m.Basis = "scores"
) -> Response:
    """Per-agent wins, totals, win rates and mean scores; on the feedback basis also judge agreement."""
    reply = await effectiveness(request, token, basis)
    return Json(m.EffectivenessOut.from_proto(reply, basis=basis))


@router.post("/security-scans", status_code=201, response_model=m.SecurityScanOut, responses=ERRORS)
async def record_security_scan(
    body: m.SecurityScanIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Records a security scan of an input."""
    gateway = upstream(request)
    reply = await gateway.call(gateway.prompts.RecordSecurityScan, body.to_proto(), token)
    return Json(m.SecurityScanOut.from_proto(reply.scan), status_code=201)


@router.get("/security-scans", response_model=m.SecurityScanList, responses=ERRORS)
async def list_security_scans(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: PageSize = 0,
    page_token: str = PageToken,
) -> Response:
    """The caller's scans, newest first."""
    gateway = upstream(request)
    reply = await gateway.call(
        gateway.prompts.ListSecurityScans,
        pb.ListSecurityScansRequest(page_size=page_size, page_token=page_token),
        token,
    )
    return Json(m.SecurityScanList.from_proto(reply))
