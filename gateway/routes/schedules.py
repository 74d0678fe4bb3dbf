"""REST routes of export schedules and their runs (DESIGN.md "Data for pipelines"); the
ScheduleService of the exports service does the work, bodies are in gateway/models/schedules.py."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from depot.exports.v1 import schedules_pb2 as pb
from depot.exports.v1 import schedules_pb2_grpc
from gateway.auth import bearer_token
from gateway.models.common import ErrorOut
from gateway.models.schedules import RunList, ScheduleIn, ScheduleList, ScheduleOut
from gateway.responses import Json
from gateway.routes.shared import ERRORS, PageSize, PageToken, upstream

router = APIRouter(prefix="/api/v1", tags=["export schedules"])
CREATE_ERRORS = {**ERRORS, 403: {"model": ErrorOut}}


def schedules(request: Request) -> schedules_pb2_grpc.ScheduleServiceStub:
    """ScheduleService, served by the exports service beside ExportsService."""
    return upstream(request).stub(schedules_pb2_grpc.ScheduleServiceStub)


@router.post("/export-schedules", status_code=201, response_model=ScheduleOut, responses=CREATE_ERRORS)
async def create_schedule(body: ScheduleIn, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Schedules an export: each window of the cadence becomes one export job (a run)."""
    reply = await upstream(request).call(schedules(request).CreateSchedule, body.to_proto(), token)
    return Json(ScheduleOut.from_proto(reply.schedule).model_dump(), status_code=201)


@router.get("/export-schedules", response_model=ScheduleList, responses=ERRORS)
async def list_schedules(
    request: Request, page_size: PageSize = 0, page_token: str = PageToken, token: str = Depends(bearer_token)
) -> Response:
    """The caller's schedules, newest first."""
    message = pb.ListSchedulesRequest(page_size=page_size, page_token=page_token)
    reply = await upstream(request).call(schedules(request).ListSchedules, message, token)
    return Json(ScheduleList.from_proto(reply).model_dump())


@router.get("/export-schedules/{schedule_id}", response_model=ScheduleOut, responses=ERRORS)
async def get_schedule(schedule_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """One schedule (never its destination's credentials)."""
    reply = await upstream(request).call(
        schedules(request).GetSchedule, pb.GetScheduleRequest(id=schedule_id), token
    )
    return Json(ScheduleOut.from_proto(reply.schedule).model_dump())


@router.delete("/export-schedules/{schedule_id}", status_code=204, responses=ERRORS)
async def delete_schedule(schedule_id: str, request: Request, token: str = Depends(bearer_token)) -> Response:
    """Stops a schedule; its runs stay as exports."""
    await upstream(request).call(
        schedules(request).DeleteSchedule, pb.DeleteScheduleRequest(id=schedule_id), token
    )
    return Response(status_code=204)


@router.get("/export-schedules/{schedule_id}/runs", response_model=RunList, responses=ERRORS)
async def list_runs(
    schedule_id: str,
    request: Request,
    page_size: PageSize = 0,
    page_token: str = PageToken,
    token: str = Depends(bearer_token),
) -> Response:
    """The schedule's runs, newest first: each window, its rows, bytes, attempts, error and delivery."""
    message = pb.ListScheduleRunsRequest(id=schedule_id, page_size=page_size, page_token=page_token)
    reply = await upstream(request).call(schedules(request).ListScheduleRuns, message, token)
    return Json(RunList.from_proto(reply).model_dump())
