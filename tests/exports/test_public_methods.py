"""The share-link read needs no bearer token, yet passes through the shared interceptor like every
other method (issue 15): its errors carry the ErrorInfo every other error carries."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from depot.exports.v1 import exports_pb2, exports_pb2_grpc
from tests.support.system import System


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]  # type: ignore[attr-defined]
    info = error_details_pb2.ErrorInfo()
    assert status_pb2.Status.FromString(details).details[0].Unpack(info)
    return info


def test_an_unknown_share_link_is_not_found_with_error_info_and_no_bearer_token(system: System) -> None:
    stub = exports_pb2_grpc.ExportsServiceStub(system.channel("exports"))
    request = exports_pb2.ReadSharedContentRequest(token="no-such-token")
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.ReadSharedContent(request, timeout=10))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value.details()
    assert error_info(caught.value).reason == "NOT_FOUND"
