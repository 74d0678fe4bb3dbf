"""REST routes of the prompts domain: prompts, versions, scores, feedback, effectiveness, scans."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from depot.prompts.v1 import prompts_pb2 as pb
from gateway import schemas, views
from gateway.auth import bearer_token
from gateway.errors import ApiError
from gateway.responses import Json
from gateway.upstream import Upstream

router = APIRouter(prefix="/api/v1", tags=["prompts"])
# 413: a JSON body over DEPOT_MAX_REQUEST_BODY_BYTES (the body limit guards every route).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorOut} for code in (400, 401, 404, 413, 503)
}
INT32_MAX = 2**31 - 1
PageSize = Query(
    default=0, ge=0, le=INT32_MAX, description="Items per page: 0 means 50, more than 1000 means 1000."
)


def upstream(request: Request) -> Upstream:
    return request.app.state.upstream  # type: ignore[no-any-return]


def new_version(body: schemas.VersionIn | schemas.NewVersionIn) -> pb.NewVersion:
    message = pb.NewVersion(text=body.text, source=body.source, parent_version_no=body.parent_version_no or 0)
    if body.explanation is not None:
        try:
            message.explanation.update(body.explanation)
        except (OverflowError, ValueError) as exc:  # a number no double holds
            raise ApiError(400, "INVALID_ARGUMENT", f"explanation: {exc}") from None
    scores = getattr(body, "scores", None)
    if scores is not None:
        message.scores.CopyFrom(pb.Scores(**scores.model_dump()))
    return message


@router.post(
    "/prompts",
    status_code=201,
    response_model=schemas.PromptOut,
    responses={200: {"model": schemas.PromptOut, "description": "The prompt with that request_id"}, **ERRORS},
)
async def create_prompt(
    body: schemas.PromptIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Creates a prompt with optional versions and scores in one transaction; a repeated request_id returns it."""
    reply = await upstream(request).call(
        upstream(request).prompts.CreatePrompt,
        pb.CreatePromptRequest(
            request_id=body.request_id or "",
            agent_type=body.agent_type or "",
            original_text=body.original_text,
            versions=[new_version(v) for v in body.versions],
        ),
        token,
    )
    return Json(views.prompt(reply.prompt), status_code=201 if reply.created else 200)


@router.get("/prompts", response_model=schemas.PromptList, responses=ERRORS)
async def list_prompts(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: int = PageSize,
    page_token: str = Query(default="", max_length=512),
    q: str = Query(default="", max_length=1000, description="Text the original prompt contains"),
    agent_type: str = Query(default="", max_length=255),
) -> Response:
    """The caller's prompts, newest first."""
    reply = await upstream(request).call(
        upstream(request).prompts.ListPrompts,
        pb.ListPromptsRequest(
            page_size=page_size, page_token=page_token, text_contains=q, agent_type=agent_type
        ),
        token,
    )
    return Json({"items": [views.prompt(p) for p in reply.prompts], "next_page_token": reply.next_page_token})


@router.get("/prompts/{prompt_id}", response_model=schemas.PromptOut, responses=ERRORS)
async def get_prompt(prompt_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """A prompt with its versions, scores and best head."""
    reply = await upstream(request).call(
        upstream(request).prompts.GetPrompt, pb.GetPromptRequest(id=prompt_id), token
    )
    return Json(views.prompt(reply.prompt))


@router.delete("/prompts/{prompt_id}", status_code=204, responses=ERRORS)
async def delete_prompt(prompt_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Deletes a prompt with its versions, scores and feedback."""
    await upstream(request).call(
        upstream(request).prompts.DeletePrompt, pb.DeletePromptRequest(id=prompt_id), token
    )
    return Response(status_code=204)


@router.post(
    "/prompts/{prompt_id}/versions",
    status_code=201,
    response_model=schemas.AppendedVersionOut,
    responses=ERRORS,
)
async def append_version(
    prompt_id: str, body: schemas.NewVersionIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Appends a version; the server assigns its number."""
    reply = await upstream(request).call(
        upstream(request).prompts.AppendVersion,
        pb.AppendVersionRequest(prompt_id=prompt_id, version=new_version(body)),
        token,
    )
    return Json({**views.version(reply.version), "revision": reply.revision}, status_code=201)


@router.put(
    "/prompts/{prompt_id}/versions/{version_no}/score",
    response_model=schemas.ScoreResultOut,
    responses=ERRORS,
)
async def set_scores(
    prompt_id: str,
    body: schemas.ScoresIn,
    request: Request,
    version_no: int = Path(ge=1, le=INT32_MAX),
    token: str = Depends(bearer_token),
) -> Response:
    """Sets a version's judge scores; the best head follows."""
    reply = await upstream(request).call(
        upstream(request).prompts.SetScores,
        pb.SetScoresRequest(
            prompt_id=prompt_id, version_no=version_no, scores=pb.Scores(**body.model_dump())
        ),
        token,
    )
    return Json(
        {
            **views.scores(reply.scores),
            "best_version_no": reply.best_version_no or None,
            "revision": reply.revision,
        }
    )


async def submit_feedback(
    body: schemas.FeedbackIn, request: Request, token: str
) -> pb.SubmitFeedbackResponse:
    return await upstream(request).call(  # type: ignore[no-any-return]
        upstream(request).prompts.SubmitFeedback,
        pb.SubmitFeedbackRequest(
            request_id=body.request_id,
            user_choice=views.USER_CHOICE_VALUES[body.user_choice],
            judge_winner=body.judge_winner,
            agent_winner=body.agent_winner,
        ),
        token,
    )


@router.post(
    "/feedback",
    status_code=201,
    response_model=schemas.FeedbackOut,
    responses={200: {"model": schemas.FeedbackOut, "description": "Earlier feedback replaced"}, **ERRORS},
)
async def post_feedback(
    body: schemas.FeedbackIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Feedback on one of the caller's own requests; a second submission replaces the first."""
    reply = await submit_feedback(body, request, token)
    return Json(views.feedback(reply.feedback), status_code=201 if reply.created else 200)


@router.get("/feedback", response_model=schemas.FeedbackList, responses=ERRORS)
async def list_feedback(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: int = PageSize,
    page_token: str = Query(default="", max_length=512),
    request_id: str = Query(default="", max_length=255),
) -> Response:
    """The caller's feedback, newest first."""
    reply = await upstream(request).call(
        upstream(request).prompts.ListFeedback,
        pb.ListFeedbackRequest(page_size=page_size, page_token=page_token, request_id=request_id),
        token,
    )
    return Json(
        {"items": [views.feedback(f) for f in reply.feedback], "next_page_token": reply.next_page_token}
    )


async def effectiveness(request: Request, token: str, basis: str) -> dict[str, Any]:
    reply = await upstream(request).call(
        upstream(request).prompts.GetAgentEffectiveness,
        pb.GetAgentEffectivenessRequest(basis=views.BASIS_VALUES[basis]),
        token,
    )
    return views.effectiveness(reply, basis=basis)


@router.get("/agents/effectiveness", response_model=schemas.EffectivenessOut, responses=ERRORS)
async def get_effectiveness(
    request: Request, token: str = Depends(bearer_token), basis: Literal["scores", "feedback"] = "scores"
) -> Response:
    """Per-agent wins, totals, win rates and mean scores; on the feedback basis also judge agreement."""
    return Json(await effectiveness(request, token, basis))


@router.post("/security-scans", status_code=201, response_model=schemas.SecurityScanOut, responses=ERRORS)
async def record_security_scan(
    body: schemas.SecurityScanIn, request: Request, token: str = Depends(bearer_token)
) -> Response:
    """Records a security scan of an input."""
    reply = await upstream(request).call(
        upstream(request).prompts.RecordSecurityScan,
        pb.RecordSecurityScanRequest(
            input_text=body.input_text, risk_score=body.risk_score, label=views.LABEL_VALUES[body.label]
        ),
        token,
    )
    return Json(views.security_scan(reply.scan), status_code=201)


@router.get("/security-scans", response_model=schemas.SecurityScanList, responses=ERRORS)
async def list_security_scans(
    request: Request,
    token: str = Depends(bearer_token),
    page_size: int = PageSize,
    page_token: str = Query(default="", max_length=512),
) -> Response:
    """The caller's scans, newest first."""
    reply = await upstream(request).call(
        upstream(request).prompts.ListSecurityScans,
        pb.ListSecurityScansRequest(page_size=page_size, page_token=page_token),
        token,
    )
    return Json(
        {"items": [views.security_scan(s) for s in reply.scans], "next_page_token": reply.next_page_token}
    )
