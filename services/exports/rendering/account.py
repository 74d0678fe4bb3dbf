"""Reading one user's whole account for a takeout, over the prompts and files services' own RPCs.

Everything is read page by page (or streamed), one prompt, one page of feedback or one file at a
time, so a takeout holds a page of rows and a chunk of bytes whatever the account's size. The
calls are made in the render worker thread through the sync channels of `Sources`, each with a
fresh service token for the account's owner.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc

from depot.files.v1 import files_pb2
from depot.prompts.v1 import prompts_pb2
from services.common.channels import upstream_error

PAGE_SIZE = 500
# Prompts are read one GetPrompt each: this many calls run ahead of the writer (a round trip each
# would otherwise leave the zip writer waiting), on a few threads of their own.
PROMPTS_AHEAD, PROMPT_READERS = 16, 4
Metadata = Callable[[], tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class AccountPrompt:
    """A prompt whole (versions and scores) and the labels its owner set on it (no built-ins)."""

    prompt: Any
    labels: Sequence[Any]


def enum_word(enum: Any, value: int, prefix: str) -> str:
    """A proto enum value as the REST word: USER_CHOICE_MULTI → multi."""
    return str(enum.Name(value)).removeprefix(prefix).lower()


class AccountReader:
    """The reads a takeout makes, as the account's owner."""

    def __init__(self, *, prompts: Any, files: Any, metadata: Metadata, timeout: float) -> None:
        self._prompts, self._files = prompts, files
        self._metadata, self._timeout = metadata, timeout

    def _call(self, method: Any, request: Any, service: str) -> Any:
        try:
            return method(request, metadata=self._metadata(), timeout=self._timeout)
        except grpc.RpcError as exc:
            raise upstream_error(exc, service) from None

    def _pages(self, method: Any, request: Any, field: str, service: str) -> Iterator[Any]:
        while True:
            reply = self._call(method, request, service)
            yield from getattr(reply, field)
            if not reply.next_page_token:
                return
            request.page_token = reply.next_page_token

    def prompt_ids(self) -> Iterator[str]:
        """Every prompt id of the owner, oldest first."""
        request = prompts_pb2.ListPromptsRequest(page_size=PAGE_SIZE)
        return (p.id for p in self._pages(self._prompts.ListPrompts, request, "prompts", "prompts"))

    def prompt(self, prompt_id: str) -> AccountPrompt | None:
        """One prompt with its versions, scores and labels; None when it was deleted meanwhile."""
        try:
            reply = self._prompts.GetPrompt(
                prompts_pb2.GetPromptRequest(id=prompt_id, include_labels=True),
                metadata=self._metadata(),
                timeout=self._timeout,
            )
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise upstream_error(exc, "prompts") from None
        return AccountPrompt(reply.prompt, list(reply.labels))

    def prompts(self) -> Iterator[AccountPrompt]:
        """Every prompt of the owner, whole, in list order; the next few are read meanwhile."""
        with ThreadPoolExecutor(max_workers=PROMPT_READERS, thread_name_prefix="depot-takeout") as pool:
            ahead: deque[Future[AccountPrompt | None]] = deque()
            for prompt_id in self.prompt_ids():
                ahead.append(pool.submit(self.prompt, prompt_id))
                if len(ahead) >= PROMPTS_AHEAD:
                    prompt = ahead.popleft().result()
                    if prompt is not None:  # None: deleted while the takeout ran
                        yield prompt
            while ahead:
                prompt = ahead.popleft().result()
                if prompt is not None:
                    yield prompt

    def feedback(self) -> Iterator[Any]:
        request = prompts_pb2.ListFeedbackRequest(page_size=PAGE_SIZE)
        return self._pages(self._prompts.ListFeedback, request, "feedback", "prompts")

    def security_scans(self) -> Iterator[Any]:
        request = prompts_pb2.ListSecurityScansRequest(page_size=PAGE_SIZE)
        return self._pages(self._prompts.ListSecurityScans, request, "scans", "prompts")

    def chats(self) -> Iterator[Any]:
        request = files_pb2.ListChatsRequest(page_size=PAGE_SIZE)
        return self._pages(self._files.ListChats, request, "chats", "files")

    def artifacts(self, chat_id: str) -> Iterator[Any]:
        """The chat's artifacts, each read whole (an artifact is bounded by the files service)."""
        request = files_pb2.ListArtifactsRequest(chat_id=chat_id, page_size=PAGE_SIZE)
        for listed in self._pages(self._files.ListArtifacts, request, "artifacts", "files"):
            reply = self._call(self._files.GetArtifact, files_pb2.GetArtifactRequest(id=listed.id), "files")
            yield reply.artifact

    def chat_stream(self, chat_id: str) -> Any:
        """The raw StreamChatFiles stream of one chat (header, then each file and its chunks)."""
        request = files_pb2.StreamChatFilesRequest(chat_id=chat_id)
        return self._files.StreamChatFiles(request, metadata=self._metadata(), timeout=self._timeout)

    def revision(self) -> str:
        """Changes whenever anything of the account changes: the owner's prompts revision and every
        chat's revision (a takeout is reused only while both stand)."""
        reply = self._call(
            self._prompts.GetDatasetRevision, prompts_pb2.GetDatasetRevisionRequest(), "prompts"
        )
        digest = hashlib.sha256()
        for chat in self.chats():
            digest.update(f"{chat.chat_id}\x00{chat.revision}\x00".encode())
        return f"{reply.revision}.{digest.hexdigest()[:16]}"
