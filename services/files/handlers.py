"""The gRPC servicer of the files service: proto in, service calls, proto out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from depot.files.v1 import files_pb2 as pb
from depot.files.v1 import files_pb2_grpc
from services.common.cells import cell_value
from services.common.database import Database
from services.common.errors import FailedPrecondition, PermissionDenied
from services.common.interceptors import current_principal
from services.common.pagination import page_size
from services.files import artifacts, messages, quota, rules, service
from services.files.content import Spool
from services.files.repository import FilesRepository
from services.files.retention import FileRetention

optional = messages.optional
EDITS_AT_ONCE = 2


def _owner() -> str:
    return current_principal().user_id


def _require_admin(action: str) -> None:
    if not current_principal().is_admin:
        raise PermissionDenied(f"only an admin may {action}", reason="ADMIN_ONLY")


def _chat_reader(owner: str) -> str:
    """Whose chat a read sees: the caller's own, or the named user's for an admin's export
    (a service acting for an admin, DESIGN rule 4)."""
    principal = current_principal()
    if not owner or owner == principal.user_id:
        return principal.user_id
    if not principal.admin_export:
        raise PermissionDenied("only an admin's export may read another user's chat", field="owner")
    return owner


class FilesHandlers(files_pb2_grpc.FilesServiceServicer):
    """Each write is one transaction, committed when the call succeeds; uploads are received first."""

    def __init__(
        self,
        database: Database,
        *,
        max_file_bytes: int,
        quota_bytes: int = 0,
        retention: FileRetention | None = None,
    ) -> None:
        self._database = database
        self._max_file_bytes = max_file_bytes
        self._quota_bytes = quota_bytes
        self._retention = retention
        self._unit_of_work = database.units_of_work(FilesRepository)  # one transaction per write
        # An edit holds its file's text (up to the size limit) while it runs: a few at a time bound
        # what edits cost together, and they are CPU work that more threads would not speed up.
        self._edits = asyncio.Semaphore(EDITS_AT_ONCE)

    @contextlib.asynccontextmanager
    async def _reads(self) -> AsyncIterator[FilesRepository]:
        """A repository on a pooled connection for short reads (no transaction kept open)."""
        async with self._database.connection() as session:
            yield FilesRepository(session)

    @contextlib.asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[FilesRepository]:
        """A read-only repeatable-read transaction: a whole chat as of one instant."""
        async with self._database.snapshot() as session:
            yield FilesRepository(session)

    async def UploadFile(
        self, request_iterator: AsyncIterator[pb.UploadFileRequest], context: grpc.aio.ServicerContext
    ) -> Any:
        # A refused upload's remaining body is read and dropped by the shared interceptor.
        return await self._upload(request_iterator)

    async def _upload(self, request_iterator: AsyncIterator[pb.UploadFileRequest]) -> Any:
        header, chunks = await messages.upload_parts(request_iterator)
        upload = service.check_upload(
            chat_id=header.chat_id,
            filename=header.filename,
            file_type=header.file_type,
            media_type=header.media_type,
            description=optional(header, "description"),
            metadata_json=optional(header, "metadata_json"),
            if_match=header.if_match,
            if_none_match=[*header.if_none_match_etags, *(["*"] if header.if_none_match else [])],
            expected_size=optional(header, "expected_size_bytes"),
            limit=self._max_file_bytes,
        )
        if upload.expected_size is not None and upload.expected_size > quota.PRECHECK_ABOVE_BYTES:
            await self._precheck_quota(upload)
        with Spool() as spool:
            await service.receive(
                spool, chunks, limit=self._max_file_bytes, expected_size=upload.expected_size
            )
            async with self._unit_of_work() as repo:
                row, created = await service.put_file(
                    repo, owner=_owner(), upload=upload, content=spool, default_quota=self._quota_bytes
                )
        return pb.UploadFileResponse(file=messages.file_message(row), created=created)

    async def _precheck_quota(self, upload: service.Upload) -> None:
        """An announced size that cannot fit the quota is refused before any byte is taken in."""
        assert upload.expected_size is not None
        async with self._reads() as repo:
            await quota.precheck(
                repo,
                owner=_owner(),
                chat_id=upload.chat_id,
                filename=upload.filename,
                expected_bytes=upload.expected_size,
                default_quota=self._quota_bytes,
            )

    async def DownloadFile(
        self, request: pb.DownloadFileRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.DownloadFileResponse]:
        async with self._unit_of_work() as repo:
            download = await service.open_download(
                repo,
                owner=_owner(),
                chat_id=request.chat_id,
                filename=request.filename,
                start=optional(request, "range_start"),
                end=optional(request, "range_end"),
                suffix=optional(request, "range_suffix_length"),
                if_range=optional(request, "if_range_sha256"),
            )
        file = messages.file_message(download.file)
        byte_range = download.byte_range
        if byte_range is None:
            yield pb.DownloadFileResponse(header=pb.DownloadHeader(file=file, range_not_satisfiable=True))
            return
        yield pb.DownloadFileResponse(
            header=pb.DownloadHeader(
                file=file, offset=byte_range.offset, length=byte_range.length, partial=byte_range.partial
            )
        )
        async for data in service.read_content(
            self._reads, file=download.file, offset=byte_range.offset, length=byte_range.length
        ):
            for message in rules.message_slices(data):
                yield pb.DownloadFileResponse(chunk=message)

    async def GetFile(self, request: pb.GetFileRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._unit_of_work() as repo:
            row = await service.get_file(
                repo, owner=_owner(), chat_id=request.chat_id, filename=request.filename
            )
        return pb.GetFileResponse(file=messages.file_message(row))

    async def ListFiles(self, request: pb.ListFilesRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._unit_of_work() as repo:
            page = await service.list_files(
                repo,
                owner=_owner(),
                chat_id=request.chat_id,
                size=request.page_size,
                token=request.page_token,
            )
        return pb.ListFilesResponse(
            files=[messages.file_message(r) for r in page.items], next_page_token=page.next_page_token
        )

    async def UpdateFile(self, request: pb.UpdateFileRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._unit_of_work() as repo:
            row = await service.update_file(
                repo,
                owner=_owner(),
                chat_id=request.chat_id,
                filename=request.filename,
                description=optional(request, "description"),
                metadata_json=optional(request, "metadata_json"),
                if_match=request.if_match,
                if_none_match=request.if_none_match,
            )
        return pb.UpdateFileResponse(file=messages.file_message(row))

    async def DeleteFile(self, request: pb.DeleteFileRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._unit_of_work() as repo:
            revision = await service.delete_file(
                repo,
                owner=_owner(),
                chat_id=request.chat_id,
                filename=request.filename,
                if_match=request.if_match,
                if_none_match=request.if_none_match,
            )
        return pb.DeleteFileResponse(chat_revision=revision)

    async def ReplaceInFile(self, request: pb.ReplaceInFileRequest, context: grpc.aio.ServicerContext) -> Any:
        # Waiting here holds no connection and no lock; the edits that run hold a file each.
        async with self._edits, self._unit_of_work() as repo:
            row, replaced = await service.replace_in_file(
                repo,
                owner=_owner(),
                chat_id=request.chat_id,
                filename=request.filename,
                old_text=request.old_text,
                new_text=request.new_text,
                count=optional(request, "count"),
                if_match=request.if_match,
                if_none_match=request.if_none_match,
                limit=self._max_file_bytes,
                default_quota=self._quota_bytes,
            )
        return pb.ReplaceInFileResponse(file=messages.file_message(row), replacements=replaced)

    async def DeleteChat(self, request: pb.DeleteChatRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._unit_of_work() as repo:
            deleted_files, deleted_artifacts = await service.delete_chat(
                repo, owner=_owner(), chat_id=request.chat_id
            )
        return pb.DeleteChatResponse(deleted_files=deleted_files, deleted_artifacts=deleted_artifacts)

    async def ListChats(self, request: pb.ListChatsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._reads() as repo:
            page = await service.list_chats(
                repo, owner=_owner(), size=request.page_size, token=request.page_token
            )
            standing = await quota.standing(repo, owner=_owner(), default_quota=self._quota_bytes)
        return pb.ListChatsResponse(
            chats=[messages.chat_message(r) for r in page.items],
            next_page_token=page.next_page_token,
            used_bytes=standing.used_bytes,
            quota_bytes=standing.quota_bytes,
        )

    async def SetUserQuota(self, request: pb.SetUserQuotaRequest, context: grpc.aio.ServicerContext) -> Any:
        _require_admin("set a user's quota")
        async with self._unit_of_work() as repo:
            standing = await quota.set_quota(
                repo,
                user_id=request.user_id,
                quota_bytes=optional(request, "quota_bytes"),
                default_quota=self._quota_bytes,
            )
        return pb.SetUserQuotaResponse(
            user_id=request.user_id,
            quota_bytes=standing.quota_bytes,
            used_bytes=standing.used_bytes,
            overridden=standing.overridden,
        )

    async def SweepStaleFiles(
        self, request: pb.SweepStaleFilesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        _require_admin("sweep stale files")
        if self._retention is None:
            raise FailedPrecondition(
                "retention is off in this deployment (DEPOT_FILE_RETENTION_DAYS is 0)", reason="RETENTION_OFF"
            )
        sweep = await self._retention.sweep(dry_run=request.dry_run, listed=page_size(request.page_size))
        return pb.SweepStaleFilesResponse(
            files=[messages.stale_file(f) for f in sweep.files],
            file_count=sweep.file_count,
            total_bytes=sweep.total_bytes,
            retention_days=self._retention.days,
        )

    async def GetChatRevision(
        self, request: pb.GetChatRevisionRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self._unit_of_work() as repo:
            row = await service.chat_revision(
                repo, owner=_chat_reader(request.owner), chat_id=request.chat_id
            )
        return pb.GetChatRevisionResponse(
            revision=row.revision, file_count=row.file_count, artifact_count=row.artifact_count
        )

    async def StreamChatFiles(
        self, request: pb.StreamChatFilesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamChatFilesResponse]:
        async with self._snapshot() as repo:
            revision, snapshot, files = await service.chat_snapshot(
                repo, owner=_chat_reader(request.owner), chat_id=request.chat_id
            )
            yield pb.StreamChatFilesResponse(
                header=pb.ChatHeader(
                    chat_id=request.chat_id,
                    revision=revision.revision,
                    file_count=len(files),
                    snapshot_time=messages.timestamp(snapshot),
                )
            )
            for row, archive_name in files:
                file = messages.file_message(row)
                file.filename = archive_name
                yield pb.StreamChatFilesResponse(file=file)
                async for data in service.file_content(repo, file=row):
                    for message in rules.message_slices(data):
                        yield pb.StreamChatFilesResponse(chunk=message)

    async def CreateArtifact(
        self, request: pb.CreateArtifactRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        rows = [[cell_value(c) for c in row.cells] for row in request.rows]
        async with self._unit_of_work() as repo:
            row = await artifacts.create_artifact(
                repo,
                owner=_owner(),
                chat_id=request.chat_id,
                title=request.title,
                columns=list(request.columns),
                rows=rows,
            )
        message = messages.artifact_message(row, with_rows=False)
        message.rows.extend(request.rows)
        return pb.CreateArtifactResponse(artifact=message)

    async def GetArtifact(self, request: pb.GetArtifactRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._unit_of_work() as repo:
            # An admin's export (DESIGN rule 4) reads any user's artifact; everyone else only their own.
            owner = None if current_principal().admin_export else _owner()
            row = await artifacts.get_artifact(repo, owner=owner, artifact_id=request.id)
        return pb.GetArtifactResponse(artifact=messages.artifact_message(row, with_rows=True))

    async def ListArtifacts(self, request: pb.ListArtifactsRequest, context: grpc.aio.ServicerContext) -> Any:
        async with self._unit_of_work() as repo:
            page = await artifacts.list_artifacts(
                repo,
                owner=_owner(),
                chat_id=request.chat_id,
                size=request.page_size,
                token=request.page_token,
            )
        return pb.ListArtifactsResponse(
            artifacts=[messages.artifact_message(r, with_rows=False) for r in page.items],
            next_page_token=page.next_page_token,
        )

    async def DeleteArtifact(
        self, request: pb.DeleteArtifactRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async with self._unit_of_work() as repo:
            revision = await artifacts.delete_artifact(repo, owner=_owner(), artifact_id=request.id)
        return pb.DeleteArtifactResponse(chat_revision=revision)
