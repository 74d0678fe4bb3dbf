"""The gRPC servicer of DatasetWindowsService: StreamDatasets restricted to a window of change times."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from depot.prompts.v1 import dataset_windows_pb2 as pb
from depot.prompts.v1 import dataset_windows_pb2_grpc
from services.common.errors import InvalidArgument
from services.common.timestamps import datetime_of
from services.prompts.dataset_windows import check_window
from services.prompts.handlers import PromptsHandlers


class DatasetWindowsHandlers(dataset_windows_pb2_grpc.DatasetWindowsServiceServicer):
    """Streams through the prompts servicer's own dataset stream, so both send the same messages."""

    def __init__(self, datasets: PromptsHandlers) -> None:
        self._datasets = datasets

    async def StreamDatasetWindow(
        self, request: pb.StreamDatasetWindowRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamDatasetWindowResponse]:
        for field in ("changed_since", "changed_before"):
            if not request.HasField(field):
                raise InvalidArgument(f"{field} is required", field=field)
        window = check_window(datetime_of(request.changed_since), datetime_of(request.changed_before))
        async for part in self._datasets.stream_datasets(request.datasets, window=window):
            yield pb.StreamDatasetWindowResponse(part=part)
