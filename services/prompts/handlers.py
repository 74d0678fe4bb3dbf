"""The gRPC servicer of the prompts service: proto in, one service call, proto out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from services.common.database import Database
from services.common.errors import InvalidArgument
from services.common.interceptors import current_principal
from services.common.timestamps import timestamp
from services.prompts import label_messages, labels, messages, service
from services.prompts.analytics_repository import AnalyticsRepository
from services.prompts.dataset_windows import Window, windowed
from services.prompts.fine_tune import FINE_TUNE
from services.prompts.label_handlers import LabelHandlers
from services.prompts.label_repository import LabelsRepository
from services.prompts.repository import PromptsRepository


def _enum(value: int, names: dict[int, str], field: str) -> str:
    if value not in names:
        raise InvalidArgument(f"{field} must be one of {', '.join(names.values())}", field=field)
    return names[value]


class PromptsHandlers(LabelHandlers, prompts_pb2_grpc.PromptsServiceServicer):
    """Each RPC is one unit of work: one transaction, committed when the call succeeds."""

    def __init__(self, database: Database, *, max_prompt_bytes: int) -> None:
        self._db = database
        self._max_prompt_bytes = max_prompt_bytes

    async def CreatePrompt(self, request: pb.CreatePromptRequest, context: grpc.aio.ServicerContext) -> Any:
        for index, version in enumerate(request.versions):
            if version.HasField("model_config"):  # kept only by appends: refused, not dropped
                raise InvalidArgument(
                    "a version created with its prompt takes no model_config; append it with one",
                    field=f"versions[{index}].model_config",
                )
        versions = [messages.new_version(v) for v in request.versions]
        # One statement creates it all (atomic by itself), so no BEGIN/COMMIT round trips.
        async with self._db.connection() as conn:
            view, created = await service.create_prompt(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                request_id=request.request_id,
                agent_type=request.agent_type,
                original_text=request.original_text,
                versions=versions,
                max_prompt_bytes=self._max_prompt_bytes,
            )
        return pb.CreatePromptResponse(
            prompt=messages.prompt_message(view.prompt, view.versions), created=created
        )

    async def GetPrompt(self, request: pb.GetPromptRequest, context: grpc.aio.ServicerContext) -> Any:
        principal = current_principal()
        # An admin's export (DESIGN rule 4) reads any user's prompt; everyone else only their own.
        owner = None if principal.admin_export else principal.user_id
        async with self._db.begin() as conn:
            view = await service.get_prompt(PromptsRepository(conn), owner=owner, prompt_id=request.id)
            own = (
                await labels.own_labels(LabelsRepository(conn), prompt_id=view.prompt.id)
                if request.include_labels
                else []
            )
        return pb.GetPromptResponse(
            prompt=messages.prompt_message(view.prompt, view.versions),
            labels=[label_messages.label_message(v) for v in own],
        )

    async def ListPrompts(self, request: pb.ListPromptsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._db.begin() as conn:
            page = await service.list_prompts(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                size=request.page_size,
                token=request.page_token,
                text_contains=request.text_contains,
                agent_type=request.agent_type,
            )
        return pb.ListPromptsResponse(
            prompts=[messages.prompt_message(p) for p in page.items], next_page_token=page.next_page_token
        )

    async def DeletePrompt(self, request: pb.DeletePromptRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._db.begin() as conn:
            await service.delete_prompt(
                PromptsRepository(conn), owner=current_principal().user_id, prompt_id=request.id
            )
        return pb.DeletePromptResponse()

    async def AppendVersion(self, request: pb.AppendVersionRequest, context: grpc.aio.ServicerContext) -> Any:
        version = messages.new_version(request.version)
        model_config = messages.model_config(request.version)
        async with self._db.begin() as conn:
            row = await service.append_version(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                prompt_id=request.prompt_id,
                version=version,
                max_prompt_bytes=self._max_prompt_bytes,
            )
            if model_config is not None:
                await LabelsRepository(conn).set_model_config(
                    prompt_id=uuid.UUID(request.prompt_id),
                    version_no=row.version_no,
                    model_config=model_config,
                )
        reply = pb.AppendVersionResponse(version=messages.version_message(row), revision=row.revision)
        if model_config is not None:
            reply.version.model_config.update(model_config)
        return reply

    async def SetScores(self, request: pb.SetScoresRequest, context: grpc.aio.ServicerContext) -> Any:
        scores = messages.score_set(request.scores)
        async with self._db.begin() as conn:
            stored, head = await service.set_scores(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                prompt_id=request.prompt_id,
                version_no=request.version_no,
                scores=scores,
            )
        return pb.SetScoresResponse(
            scores=messages.scores_message(stored),
            best_version_no=head.best_version_no or 0,
            revision=head.revision,
        )

    async def SubmitFeedback(
        self, request: pb.SubmitFeedbackRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        choice = _enum(request.user_choice, messages.USER_CHOICES, "user_choice")
        async with self._db.begin() as conn:
            row = await service.submit_feedback(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                request_id=request.request_id,
                user_choice=choice,
                judge_winner=request.judge_winner,
                agent_winner=request.agent_winner,
            )
        return pb.SubmitFeedbackResponse(feedback=messages.feedback_message(row), created=row.inserted)

    async def ListFeedback(self, request: pb.ListFeedbackRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._db.begin() as conn:
            page = await service.list_feedback(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                size=request.page_size,
                token=request.page_token,
                request_id=request.request_id,
            )
        return pb.ListFeedbackResponse(
            feedback=[messages.feedback_message(f) for f in page.items], next_page_token=page.next_page_token
        )

    async def GetAgentEffectiveness(
        self, request: pb.GetAgentEffectivenessRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        basis = _enum(request.basis, messages.BASES, "basis")
        async with self._db.begin() as conn:
            rows = await service.agent_effectiveness(
                AnalyticsRepository(conn), owner=current_principal().user_id, basis=basis
            )
        return pb.GetAgentEffectivenessResponse(
            basis=request.basis, agents=[messages.agent_stats_message(r) for r in rows]
        )

    async def RecordSecurityScan(
        self, request: pb.RecordSecurityScanRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        label = _enum(request.label, messages.LABELS, "label")
        async with self._db.begin() as conn:
            row = await service.record_security_scan(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                input_text=request.input_text,
                risk_score=request.risk_score,
                label=label,
            )
        return pb.RecordSecurityScanResponse(scan=messages.scan_message(row))

    async def ListSecurityScans(
        self, request: pb.ListSecurityScansRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self._db.begin() as conn:
            page = await service.list_security_scans(
                PromptsRepository(conn),
                owner=current_principal().user_id,
                size=request.page_size,
                token=request.page_token,
            )
        return pb.ListSecurityScansResponse(
            scans=[messages.scan_message(s) for s in page.items], next_page_token=page.next_page_token
        )

    async def GetDatasetRevision(
        self, request: pb.GetDatasetRevisionRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        principal = current_principal()
        owner = service.dataset_scope(
            owner=principal.user_id, is_admin=principal.is_admin, all_users=request.all_users
        )
        async with self._db.begin() as conn:
            revision = await PromptsRepository(conn).dataset_revision(owner=owner)
        return pb.GetDatasetRevisionResponse(revision=revision)

    async def StreamDatasetRows(
        self, request: pb.StreamDatasetRowsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamDatasetRowsResponse]:
        dataset, owner = self._dataset_request(request.dataset, request.all_users)
        async with self._db.snapshot() as conn:
            analytics = AnalyticsRepository(conn)
            header = await service.dataset_header(
                analytics, PromptsRepository(conn), dataset=dataset, owner=owner
            )
            yield pb.StreamDatasetRowsResponse(header=_header(*header))
            async for fetched in service.dataset_rows(analytics, dataset=dataset, owner=owner):
                for batch in messages.row_batches(fetched):
                    yield pb.StreamDatasetRowsResponse(rows=batch)

    async def StreamDatasetCsv(
        self, request: pb.StreamDatasetCsvRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamDatasetCsvResponse]:
        dataset, owner = self._dataset_request(request.dataset, request.all_users)
        async with self._db.snapshot() as conn:
            analytics = AnalyticsRepository(conn)
            header = await service.dataset_header(
                analytics, PromptsRepository(conn), dataset=dataset, owner=owner
            )
            yield pb.StreamDatasetCsvResponse(header=_header(*header))
            csv_safe = request.csv_mode != pb.CSV_MODE_RAW
            async for chunk in analytics.stream_csv(dataset=dataset, owner=owner, csv_safe=csv_safe):
                yield pb.StreamDatasetCsvResponse(chunk=chunk)

    async def StreamDatasets(
        self, request: pb.StreamDatasetsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamDatasetsResponse]:
        async for part in self.stream_datasets(request):
            yield part

    async def stream_datasets(
        self, request: pb.StreamDatasetsRequest, *, window: Window | None = None
    ) -> AsyncIterator[pb.StreamDatasetsResponse]:
        """StreamDatasets' stream; with a `window`, only the rows changed within it (DatasetWindowsService)."""
        names = service.check_datasets([_enum(d, messages.DATASETS, "datasets") for d in request.datasets])
        encoding = _enum(request.encoding, messages.ENCODINGS, "encoding")
        if FINE_TUNE in names and encoding != "rows":
            raise InvalidArgument("the fine-tune dataset is streamed as rows only", field="encoding")
        queries = [service.dataset_query(name, messages.fine_tune(request.fine_tune)) for name in names]
        if window is not None:
            queries = [windowed(query, name, window) for name, query in zip(names, queries, strict=True)]
        owner = self._dataset_owner(request.all_users)
        async with self._db.snapshot() as conn:
            analytics = AnalyticsRepository(conn)
            columns, revision, snapshot = await service.datasets_header(
                analytics, PromptsRepository(conn), datasets=queries, owner=owner
            )
            yield pb.StreamDatasetsResponse(
                header=pb.DatasetsHeader(
                    datasets=[
                        pb.DatasetColumns(
                            dataset=d, columns=names_, types=[messages.COLUMN_TYPES[k] for k in kinds]
                        )
                        for d, (names_, kinds) in zip(request.datasets, columns, strict=True)
                    ],
                    revision=revision,
                    snapshot_time=timestamp(snapshot),
                )
            )
            csv_safe = request.csv_mode != pb.CSV_MODE_RAW
            for name, dataset, query in zip(names, request.datasets, queries, strict=True):
                if encoding == "csv":
                    chunks = analytics.stream_csv(dataset=name, owner=owner, csv_safe=csv_safe, query=query)
                    async for chunk in chunks:
                        yield pb.StreamDatasetsResponse(dataset=dataset, chunk=chunk)
                    continue
                async for fetched in service.dataset_rows(analytics, dataset=name, owner=owner, query=query):
                    for batch in messages.row_batches(fetched):
                        yield pb.StreamDatasetsResponse(dataset=dataset, rows=batch)

    def _dataset_request(self, dataset: int, all_users: bool) -> tuple[str, str | None]:
        name = service.check_dataset(_enum(dataset, messages.DATASETS, "dataset"))
        return name, self._dataset_owner(all_users)

    def _dataset_owner(self, all_users: bool) -> str | None:
        principal = current_principal()
        return service.dataset_scope(
            owner=principal.user_id, is_admin=principal.is_admin, all_users=all_users
        )


def _header(columns: list[str], revision: str, snapshot: Any) -> pb.DatasetHeader:
    return pb.DatasetHeader(columns=columns, revision=revision, snapshot_time=timestamp(snapshot))
