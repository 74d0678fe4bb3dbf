"""REST routes of the caller's account and of erasure (DESIGN.md "Data in and out"); bodies in
gateway/models/account.py.

An erasure is a job in the exports service: DELETE answers 202 with its id, and
GET /api/v1/account/erasures/{id} follows it. A completed erasure names nobody, so its id is the
only way to find it again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request, Response

from depot.exports.v1 import erasure_pb2 as pb
from depot.exports.v1 import erasure_pb2_grpc
from gateway.auth import bearer_token
from gateway.models.account import AccountOut, ErasureOut
from gateway.responses import Json
from gateway.routes.shared import ERRORS, upstream
from gateway.upstream import Upstream
from services.common.limits import MAX_SUBJECT_CHARS

router = APIRouter(prefix="/api/v1", tags=["account"])
ADMIN_ERRORS = {**ERRORS, 403: ERRORS[400]}
USER_ID = Path(
    min_length=1, max_length=MAX_SUBJECT_CHARS, description="The user's id (their tokens' subject)."
)


def _erasures(gateway: Upstream) -> Any:
    """ErasureService on the exports service's channel."""
    return gateway.stub(erasure_pb2_grpc.ErasureServiceStub)


def _accepted(message: pb.Erasure) -> Response:
    body = ErasureOut.from_proto(message).model_dump()
    return Json(body, status_code=202, headers={"Location": f"/api/v1/account/erasures/{body['id']}"})


async def _start(request: Request, token: str, user_id: str) -> Response:
    gateway = upstream(request)
    reply = await gateway.call(
        _erasures(gateway).StartErasure, pb.StartErasureRequest(user_id=user_id), token
    )
    return _accepted(reply.erasure)


@router.get("/account", response_model=AccountOut, responses=ERRORS)
async def get_account(request: Request, token: str = Depends(bearer_token)) -> Response:
    """The caller's id and how much data they hold in each service: what erasing them would remove."""
    gateway = upstream(request)
    reply = await gateway.call(_erasures(gateway).PreviewErasure, pb.PreviewErasureRequest(), token)
    user_id = request.app.state.verifier.verify(token).user_id
    return Json(AccountOut(user_id=user_id, counts=dict(reply.counts)).model_dump())


@router.delete("/account", status_code=202, response_model=ErasureOut, responses=ERRORS)
async def erase_account(request: Request, token: str = Depends(bearer_token)) -> Response:
    """Erases the caller everywhere: every prompt, feedback, scan, chat, file, artifact, export and
    share link. A job: follow it at the Location. While one runs, the same one is answered again."""
    return await _start(request, token, "")


@router.get("/account/erasures/{erasure_id}", response_model=ErasureOut, responses=ERRORS)
async def get_erasure(
    request: Request,
    erasure_id: str = Path(max_length=64),
    token: str = Depends(bearer_token),
) -> Response:
    """An erasure: its steps as they complete. While it runs only its user or an admin sees it;
    once completed it names nobody and its id alone finds it."""
    gateway = upstream(request)
    reply = await gateway.call(_erasures(gateway).GetErasure, pb.GetErasureRequest(id=erasure_id), token)
    return Json(ErasureOut.from_proto(reply.erasure).model_dump())


@router.delete("/users/{user_id}", status_code=202, response_model=ErasureOut, responses=ADMIN_ERRORS)
async def erase_user(
    request: Request, user_id: str = USER_ID, token: str = Depends(bearer_token)
) -> Response:
    """Admins only (403 otherwise): erases any user everywhere, as DELETE /account does for oneself."""
    return await _start(request, token, user_id)
