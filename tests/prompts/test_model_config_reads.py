"""A version's model config, set on append, is read back with its prompt: GET /prompts/{id} and
GetPrompt carry it per version, and the append's own answer shows it."""

from __future__ import annotations

from depot.prompts.v1 import prompts_pb2 as pb
from depot.prompts.v1 import prompts_pb2_grpc
from tests.support.system import System, User


def test_each_version_of_a_prompt_read_carries_its_model_config(system: System, alice: User) -> None:
    prompt = alice.create_prompt(versions=[{"text": "One.", "source": "syntax"}])
    url = f"/api/v1/prompts/{prompt['id']}"
    config = {
        "model": "gpt-x",
        "temperature": 0.2,
        "response_format": {"type": "json_object"},
        "max_tokens": 512,
    }
    appended = alice.http.post(
        f"{url}/versions", json={"text": "Two.", "source": "human", "model_config": config}
    )
    assert appended.status_code == 201, appended.text
    assert appended.json()["model_config"] == config

    read = alice.http.get(url)
    assert read.status_code == 200, read.text
    versions = read.json()["versions"]
    assert [v["model_config"] for v in versions] == [None, config]  # whole numbers stay integers

    stub = prompts_pb2_grpc.PromptsServiceStub(system.channel("prompts"))
    reply = stub.GetPrompt(pb.GetPromptRequest(id=prompt["id"]), metadata=alice.metadata, timeout=5)
    assert [v.HasField("model_config") for v in reply.prompt.versions] == [False, True]
    assert reply.prompt.versions[1].model_config["model"] == "gpt-x"
