"""What the exports server starts for schedules: the servicer, the planner loop and the delivery port."""

from __future__ import annotations

from dataclasses import dataclass

from depot.exports.v1 import schedules_pb2, schedules_pb2_grpc
from services.common.background import Periodic
from services.common.database import Database
from services.common.grpc_server import Registration
from services.common.settings import Settings
from services.exports.blobstores import BlobStore
from services.exports.schedules.credentials import CredentialBox
from services.exports.schedules.destinations import Deliveries
from services.exports.schedules.handlers import ScheduleHandlers
from services.exports.schedules.planner import Planner, PlannerSettings
from services.exports.schedules.repository import SchedulesRepository
from services.exports.schedules.service import SchedulesService
from services.exports.schedules.settings import ScheduleSettings

FULL_NAME = schedules_pb2.DESCRIPTOR.services_by_name["ScheduleService"].full_name


@dataclass
class Schedules:
    registration: Registration
    deliveries: Deliveries
    planner: Periodic

    async def stop(self) -> None:
        await self.planner.stop()


def build(settings: Settings, database: Database, *, blobs: BlobStore, plans: bool) -> Schedules:
    """The schedules of this process; `plans`: whether it runs the planner (a job worker does)."""
    own = ScheduleSettings()
    units = database.units_of_work(SchedulesRepository)
    box = CredentialBox(keys=own.credentials_keys, service_secret=settings.service_secret)
    service = SchedulesService(units=units, box=box, settings=own)
    planner = Planner(
        units=units, settings=PlannerSettings(lag_seconds=own.lag_seconds, retry_seconds=own.retry_seconds)
    )
    loop = Periodic(planner.run_once, every=own.plan_interval_seconds if plans else 0, name="schedule_plan")
    return Schedules(
        registration=Registration(
            schedules_pb2_grpc.add_ScheduleServiceServicer_to_server, ScheduleHandlers(service), FULL_NAME
        ),
        deliveries=Deliveries(units=units, box=box, blobs=blobs, allow_private=own.allow_private_endpoints),
        planner=loop.start(),
    )
