"""Schema fuzzing of the running gateway with schemathesis, from its own /openapi.json, and the
bad-input catalogue (tests/reliability/hostile.py) on every operation.

Every operation gets generated valid and invalid requests carrying a valid token: no 5xx, every
response conforms to the schema (status, content type, headers, body), invalid data is rejected,
and an operation that needs a token refuses the same request without one. CI runs a small sample
per operation; `--long` runs at least 1,000 examples per operation and mode; DEPOT_FUZZ_EXAMPLES
overrides the count. The catalogue (deep nesting, huge numbers, NaN and Infinity, long ids, control
bytes in headers, conditional headers and ranges with garbage) runs whole in both forms: no 5xx,
no 429 and never a dropped connection.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from tests.reliability import hostile
from tests.reliability.conftest import Suite
from tests.reliability.world import build_world
from tests.support.system import System, User

CI_EXAMPLES = 10
LONG_EXAMPLES = 1000
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)


@pytest.fixture(scope="module")
def fuzzed_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A system of its own: generated requests may render many exports, so the render limit is high."""
    directory = Path(tmp_path_factory.mktemp("fuzz"))
    with System.on_own_database(directory, DEPOT_EXPORT_RATE_LIMIT_PER_MINUTE="100000") as system:
        yield system


def checks() -> list[Any]:
    return [getattr(schemathesis.checks, name) for name in CHECK_NAMES]


def run_operation(operation: Any, mode: GenerationMode, user: User, examples: int) -> tuple[int, list[str]]:
    """Runs `examples` generated cases of one operation; returns how many ran and the failures seen."""
    ran, failures = 0, []
    base_url, headers = user.system.url, {"Authorization": f"Bearer {user.token}"}
    selected = checks()

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the run stays bounded
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    def one(case: Any) -> None:
        nonlocal ran
        ran += 1
        response = case.call(base_url=base_url, timeout=60)
        try:
            case.validate_response(response, checks=selected)
        except (AssertionError, FailureGroup) as exc:  # every failed check of the response
            if len(failures) < 3:
                failures.append(f"{case.as_curl_command(headers={'Authorization': 'Bearer …'})}\n{exc}")

    # Unsatisfiable: nothing to make invalid (no parameters and no body); the positive run covers it.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        one()
    return ran, failures


# The long run sends about 100,000 requests (some 20 minutes here); CI's sample takes seconds.
@pytest.mark.timeout(50 * 60)
def test_every_operation_survives_generated_requests(
    fuzzed_system: System, long_run: bool, suite: Suite
) -> None:
    user = fuzzed_system.client()
    raw = user.http.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    # A body over the request limit is invalid data too, refused before it is parsed.
    schema.config.checks.negative_data_rejection.expected_statuses.append("413")
    examples = int(os.environ.get("DEPOT_FUZZ_EXAMPLES", 0)) or (LONG_EXAMPLES if long_run else CI_EXAMPLES)
    started, total, failures, operations = time.monotonic(), 0, {}, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ran, failed = run_operation(operation, mode, user, examples)
            total += ran
            if failed:
                failures[f"{operation.label} [{mode.value}]"] = failed
    suite.trials(total)
    suite.figure("operations", operations)
    suite.figure("examples/operation/mode", examples)
    suite.figure("failing operations", len(failures))
    suite.figure("seconds", round(time.monotonic() - started))
    report = "\n\n".join(f"== {label}\n" + "\n--\n".join(found) for label, found in failures.items())
    assert not failures, f"{len(failures)} operations failed:\n{report}"


@pytest.mark.timeout(30 * 60)
def test_every_operation_refuses_hostile_shapes_without_a_server_error(
    fuzzed_system: System, suite: Suite
) -> None:
    user = fuzzed_system.client()
    world = build_world(user)
    spec = user.http.get("/openapi.json").json()
    ids = {
        "prompt_id": world.prompt_id,
        "session_id": world.prompt_id,
        "version_no": "1",
        "export_id": world.export_id,
        "link_token": world.link_token,
        "artifact_id": world.artifact_id,
        "chat_id": world.chat_id,
        "filename": world.filename,
    }
    address = urlsplit(fuzzed_system.url)
    started, total, failures = time.monotonic(), 0, []
    for request in hostile.requests(spec, ids, user.token):
        status = hostile.send(address.hostname or "127.0.0.1", address.port or 80, request)
        total += 1
        if status == 0 or status >= 500 or status == 429:
            failures.append(f"{request.label}: {status or 'no answer'}")
    suite.trials(total)
    suite.figure("hostile requests", total)
    suite.figure("hostile seconds", round(time.monotonic() - started))
    assert not failures, f"{len(failures)} of {total} hostile requests failed:\n" + "\n".join(failures[:60])
