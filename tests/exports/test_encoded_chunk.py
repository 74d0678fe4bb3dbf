"""A download chunk encoded by hand is the very message protobuf would send."""

import pytest

from depot.exports.v1 import exports_pb2 as pb
from services.exports.messages import encoded_chunk


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 1_048_576, 2_097_153])
@pytest.mark.parametrize("message", [pb.ReadExportContentResponse, pb.ReadSharedContentResponse])
def test_an_encoded_chunk_is_protobufs_encoding(size: int, message: type) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    encoded = encoded_chunk(data)
    assert encoded == message(chunk=data).SerializeToString()
    parsed = message.FromString(encoded)
    assert parsed.WhichOneof("part") == "chunk" and parsed.chunk == data
