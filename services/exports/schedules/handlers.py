"""The gRPC servicer of export schedules: proto in, one service call, proto out."""

from __future__ import annotations

from typing import Any

import grpc

from depot.exports.v1 import schedules_pb2 as pb
from depot.exports.v1 import schedules_pb2_grpc
from services.common.errors import InvalidArgument
from services.common.interceptors import current_principal
from services.common.json_values import struct_dict
from services.exports.schedules import messages
from services.exports.schedules.service import SchedulesService


class ScheduleHandlers(schedules_pb2_grpc.ScheduleServiceServicer):
    def __init__(self, service: SchedulesService) -> None:
        self._service = service

    async def CreateSchedule(
        self, request: pb.CreateScheduleRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        if request.mode not in messages.MODE_NAMES:
            raise InvalidArgument("mode must be full or incremental", field="mode")
        row = await self._service.create(
            caller=current_principal(),
            source=request.source,
            fmt=request.format,
            options=struct_dict(request.options),
            every=request.every,
            mode=messages.MODE_NAMES[request.mode],
            destination=messages.destination_dict(request.destination),
        )
        return pb.CreateScheduleResponse(schedule=messages.schedule_message(row))

    async def GetSchedule(self, request: pb.GetScheduleRequest, context: grpc.aio.ServicerContext) -> Any:
        row = await self._service.get(owner=current_principal().user_id, schedule_id=request.id)
        return pb.GetScheduleResponse(schedule=messages.schedule_message(row))

    async def ListSchedules(self, request: pb.ListSchedulesRequest, context: grpc.aio.ServicerContext) -> Any:
        page = await self._service.list(
            owner=current_principal().user_id, size=request.page_size, token=request.page_token
        )
        return pb.ListSchedulesResponse(
            schedules=[messages.schedule_message(r) for r in page.items], next_page_token=page.next_page_token
        )

    async def DeleteSchedule(
        self, request: pb.DeleteScheduleRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        await self._service.delete(owner=current_principal().user_id, schedule_id=request.id)
        return pb.DeleteScheduleResponse()

    async def ListScheduleRuns(
        self, request: pb.ListScheduleRunsRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        page = await self._service.runs(
            owner=current_principal().user_id,
            schedule_id=request.id,
            size=request.page_size,
            token=request.page_token,
        )
        return pb.ListScheduleRunsResponse(
            runs=[messages.run_message(r) for r in page.items], next_page_token=page.next_page_token
        )
