"""The label, version-read, render and diff RPCs of the prompts servicer: proto in, one service
call, proto out (PromptsHandlers inherits them)."""

from __future__ import annotations

from typing import Any

import grpc

from depot.prompts.v1 import labels_pb2 as lpb
from depot.prompts.v1 import prompts_pb2 as pb
from services.common.database import Database
from services.common.interceptors import current_principal
from services.prompts import label_messages as m
from services.prompts import labels, version_reads
from services.prompts.label_repository import LabelsRepository


class LabelHandlers:
    """Each RPC is one unit of work: one transaction, committed when the call succeeds."""

    _db: Database
    _max_prompt_bytes: int

    async def SetLabel(self, request: lpb.SetLabelRequest, context: grpc.aio.ServicerContext) -> Any:
        principal = current_principal()
        async with self._db.begin() as conn:
            view = await labels.set_label(
                LabelsRepository(conn),
                owner=principal.user_id,
                is_admin=principal.is_admin,
                prompt_id=request.prompt_id,
                name=request.label,
                version_no=request.version_no,
                protected=request.protected if request.HasField("protected") else None,
                expected_revision=request.expected_revision,
            )
        return lpb.SetLabelResponse(label=m.label_message(view))

    async def ListLabels(self, request: lpb.ListLabelsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._db.begin() as conn:
            views = await labels.list_labels(
                LabelsRepository(conn), owner=current_principal().user_id, prompt_id=request.prompt_id
            )
        return lpb.ListLabelsResponse(labels=[m.label_message(v) for v in views])

    async def DeleteLabel(self, request: lpb.DeleteLabelRequest, context: grpc.aio.ServicerContext) -> Any:
        principal = current_principal()
        async with self._db.begin() as conn:
            await labels.delete_label(
                LabelsRepository(conn),
                owner=principal.user_id,
                is_admin=principal.is_admin,
                prompt_id=request.prompt_id,
                name=request.label,
                expected_revision=request.expected_revision,
            )
        return lpb.DeleteLabelResponse()

    async def ListLabelHistory(
        self, request: lpb.ListLabelHistoryRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self._db.begin() as conn:
            page = await labels.label_history(
                LabelsRepository(conn),
                owner=current_principal().user_id,
                prompt_id=request.prompt_id,
                name=request.label,
                size=request.page_size,
                token=request.page_token,
            )
        return lpb.ListLabelHistoryResponse(
            moves=[m.move_message(r) for r in page.items], next_page_token=page.next_page_token
        )

    async def GetVersion(self, request: lpb.GetVersionRequest, context: grpc.aio.ServicerContext) -> Any:
        ref = m.version_ref(request.version, "version")
        async with self._db.begin() as conn:
            read = await version_reads.get_version(
                LabelsRepository(conn),
                owner=current_principal().user_id,
                prompt_id=request.prompt_id,
                ref=ref,
                as_of=m.as_of(request),
            )
        reply = pb.GetVersionResponse(version=m.read_version_message(read.version))
        if read.label is not None:
            reply.label.CopyFrom(m.label_message(read.label))
        return reply

    async def RestoreVersion(
        self, request: lpb.RestoreVersionRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        ref = m.version_ref(request.version, "version")
        async with self._db.begin() as conn:
            row = await version_reads.restore_version(
                LabelsRepository(conn),
                owner=current_principal().user_id,
                prompt_id=request.prompt_id,
                ref=ref,
                max_prompt_bytes=self._max_prompt_bytes,
            )
        return pb.RestoreVersionResponse(version=m.read_version_message(row), revision=row.revision)

    async def RenderVersion(
        self, request: lpb.RenderVersionRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        ref = m.version_ref(request.version, "version")
        async with self._db.begin() as conn:
            version_no, rendered = await version_reads.render_version(
                LabelsRepository(conn),
                owner=current_principal().user_id,
                prompt_id=request.prompt_id,
                ref=ref,
                values=dict(request.variables),
            )
        return lpb.RenderVersionResponse(
            text=rendered.text, version_no=version_no, variables_used=rendered.variables_used
        )

    async def DiffVersions(self, request: lpb.DiffVersionsRequest, context: grpc.aio.ServicerContext) -> Any:
        old = m.version_ref(getattr(request, "from"), "from")
        new = m.version_ref(request.to, "to")
        async with self._db.begin() as conn:
            view = await version_reads.diff_versions(
                LabelsRepository(conn),
                owner=current_principal().user_id,
                prompt_id=request.prompt_id,
                old=old,
                new=new,
            )
        return m.diff_message(view)
