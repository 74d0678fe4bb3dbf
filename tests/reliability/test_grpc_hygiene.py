"""gRPC hygiene: deadlines on every client call, retries only for idempotent methods and only on
UNAVAILABLE, limits (concurrent RPCs, message sizes) and keepalive on every server and channel."""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from depot.exports.v1 import exports_pb2
from depot.files.v1 import files_pb2
from depot.prompts.v1 import prompts_pb2, prompts_pb2_grpc
from gateway import upstream
from services.common import channels, grpc_server
from services.common.database import pool_wait_seconds, set_call_deadline
from services.common.settings import Settings
from tests.support.system import System, User

ROOT = Path(__file__).resolve().parents[2]
NOT_IDEMPOTENT = {
    "CreatePrompt",
    "AppendVersion",
    "RecordSecurityScan",
    "UploadFile",
    "ReplaceInFile",
    "CreateArtifact",
    "CreateExport",
    "CreateShareLink",
}


def rpc_names() -> set[str]:
    names = set()
    for module in (prompts_pb2, files_pb2, exports_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            names |= {m.name for m in service.methods}
    return names


def stub_calls_without_deadline() -> list[str]:
    """Calls of an RPC by name (`stub.Method(...)`) in the gateway and the services that pass no timeout."""
    names, missing = rpc_names(), []
    for path in [*ROOT.glob("gateway/**/*.py"), *ROOT.glob("services/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in names
                and any(k.arg == "metadata" for k in node.keywords)
                and not any(k.arg == "timeout" for k in node.keywords)
            ):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.attr}")
    return missing


def test_every_client_call_carries_a_deadline() -> None:
    assert stub_calls_without_deadline() == []


def test_retries_cover_only_idempotent_methods_and_only_unavailable() -> None:
    for service, methods in [
        ("depot.prompts.v1.PromptsService", upstream.PROMPTS_IDEMPOTENT),
        ("depot.files.v1.FilesService", upstream.FILES_IDEMPOTENT),
        ("depot.exports.v1.ExportsService", upstream.EXPORTS_IDEMPOTENT),
    ]:
        options = dict(
            channels.channel_options(service=service, idempotent_methods=methods, max_message_bytes=1024)
        )
        config = json.loads(str(options["grpc.service_config"]))
        for method_config in config["methodConfig"]:
            retried = {n["method"] for n in method_config["name"]}
            assert not retried & NOT_IDEMPOTENT, f"{service} retries {retried & NOT_IDEMPOTENT}"
            assert all("method" in n for n in method_config["name"]), "a whole service is retried"
            assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
        assert options["grpc.max_send_message_length"] == options["grpc.max_receive_message_length"] == 1024
        assert options["grpc.keepalive_time_ms"] > 0 and options["grpc.keepalive_timeout_ms"] > 0


def test_servers_set_concurrency_message_limits_and_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    real = grpc.aio.server

    def recording(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(grpc_server.grpc.aio, "server", recording)
    settings = Settings(jwt_secret="x" * 40, max_concurrent_rpcs=77, max_message_bytes=4096)

    async def build() -> None:  # an asyncio server is made inside a running loop, as `serve` does
        grpc_server.GrpcServer(name="prompts", settings=settings, registrations=[])

    asyncio.run(build())
    options = dict(seen["options"])
    assert seen["maximum_concurrent_rpcs"] == 77
    assert options["grpc.max_send_message_length"] == options["grpc.max_receive_message_length"] == 4096
    assert (
        options["grpc.keepalive_time_ms"] > 0 and options["grpc.http2.min_ping_interval_without_data_ms"] > 0
    )


def test_a_message_over_the_limit_is_refused(system: System, alice: User) -> None:
    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    huge = prompts_pb2.CreatePromptRequest(original_text="x" * (9 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreatePrompt(huge, metadata=alice.metadata, timeout=30)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, caught.value


def test_a_services_database_wait_follows_the_callers_remaining_deadline() -> None:
    set_call_deadline(None)
    unbounded = pool_wait_seconds()
    set_call_deadline(3.0)
    bounded = pool_wait_seconds()
    set_call_deadline(None)
    assert unbounded == 10.0 and 1.5 < bounded <= 2.0, (unbounded, bounded)
