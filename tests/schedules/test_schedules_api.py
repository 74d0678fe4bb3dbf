"""The export-schedule routes: create, read, list, delete, runs; bad schedules refused before anything
is stored; someone else's schedule does not exist for them; credentials never come back."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support.system import Database, System, User

S3_DESTINATION = {
    "type": "s3",
    "bucket": "team-exports",
    "endpoint_url": "https://52.216.8.1",
    "access_key_id": "AKIAEXAMPLEKEY",
    "secret_access_key": "never-shown-secret-value",
}


def schedule(**body: Any) -> dict[str, Any]:
    return {"source": "datasets/feedback", "format": "csv", "every": "daily", "mode": "incremental", **body}


def create(user: User, **body: Any) -> dict[str, Any]:
    reply = user.http.post("/api/v1/export-schedules", json=schedule(**body))
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_a_schedule_is_created_read_listed_and_deleted(alice: User) -> None:
    created = create(alice, every="0 6 * * 1-5")
    assert created["every"] == "0 6 * * 1-5"
    assert created["mode"] == "incremental"
    assert created["destination"] == {
        "type": "blobstore",
        "bucket": None,
        "endpoint_url": None,
        "region": None,
        "prefix": None,
        "has_credentials": False,
    }
    assert created["next_window_start"] == "1970-01-01T00:00:00Z"  # the first run carries all history
    assert created["options"] == {"all_users": False, "csv_mode": "safe"}
    url = f"/api/v1/export-schedules/{created['id']}"
    assert alice.http.get(url).json() == created
    assert [s["id"] for s in alice.http.get("/api/v1/export-schedules").json()["items"]] == [created["id"]]
    assert alice.http.get(f"{url}/runs").json() == {"items": [], "next_page_token": ""}
    assert alice.http.delete(url).status_code == 204
    assert alice.http.get(url).status_code == 404


def test_someone_elses_schedule_is_not_found(alice: User, bob: User) -> None:
    url = f"/api/v1/export-schedules/{create(alice)['id']}"
    for reply in (bob.http.get(url), bob.http.get(f"{url}/runs"), bob.http.delete(url)):
        assert reply.status_code == 404, reply.text
        assert reply.json()["error"]["code"] == "NOT_FOUND"
    assert bob.http.get("/api/v1/export-schedules").json()["items"] == []
    assert alice.http.get(url).status_code == 200
    assert alice.http.get("/api/v1/export-schedules/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"every": "* * * * *"}, "fires 60 s apart"),
        ({"every": "*/2 * * * *"}, "fires 120 s apart"),
        ({"every": "0 0 30 2 *"}, "not a cron expression that fires"),
        ({"every": "0 0 31 4 *"}, "not a cron expression that fires"),
        ({"every": "every day at noon"}, "not a cron expression that fires"),
        ({"every": ""}, "every must be hourly, daily, weekly"),
        ({"source": "datasets/effectiveness"}, "incremental mode needs a dataset"),
        ({"source": "datasets/all"}, "incremental mode needs a dataset"),
        ({"mode": "sometimes"}, "mode"),
        ({"format": "gif"}, "format"),
        ({"source": "datasets/nope"}, "dataset must be one of"),
        ({"options": {"colour": "red"}}, "unknown option"),
        ({"options": {"window_start": "2026-01-01T00:00:00Z"}}, "belong to a schedule's runs"),
        ({"destination": {"type": "ftp"}}, "destination.type must be blobstore or s3"),
        ({"destination": {**S3_DESTINATION, "secret_access_key": ""}}, "needs its own access_key_id"),
        ({"destination": {**S3_DESTINATION, "bucket": "Bad_Bucket"}}, "destination.bucket"),
        (
            {"destination": {**S3_DESTINATION, "endpoint_url": "ftp://host"}},
            "endpoint_url must be an http(s)",
        ),
        (
            {"destination": {**S3_DESTINATION, "endpoint_url": "http://127.0.0.1:9000"}},
            "not a public address",
        ),
        (
            {"destination": {**S3_DESTINATION, "endpoint_url": "http://169.254.169.254"}},
            "not a public address",
        ),
        ({"destination": {**S3_DESTINATION, "prefix": "../up"}}, "destination.prefix"),
        ({"destination": {"type": "blobstore", "bucket": "b"}}, "takes no bucket"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_is_stored(
    alice: User, body: dict[str, Any], says: str
) -> None:
    reply = alice.http.post("/api/v1/export-schedules", json=schedule(**body))
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert says in error["message"], error
    assert alice.http.get("/api/v1/export-schedules").json()["items"] == []


def test_every_users_dataset_is_scheduled_by_admins_only(system: System, alice: User) -> None:
    refused = alice.http.post("/api/v1/export-schedules", json=schedule(options={"all_users": True}))
    assert refused.status_code == 403, refused.text
    admin = system.client(admin=True)
    created = create(admin, options={"all_users": True}, mode="full", source="datasets/all")
    assert created["options"]["all_users"] is True


def test_destination_credentials_are_stored_sealed_and_never_returned(
    alice: User, database: Database, system: System
) -> None:
    secret = S3_DESTINATION["secret_access_key"]
    created = create(alice, destination={**S3_DESTINATION, "prefix": "depot/"})
    assert created["destination"] == {
        "type": "s3",
        "bucket": "team-exports",
        "endpoint_url": "https://52.216.8.1",
        "region": "us-east-1",
        "prefix": "depot/",
        "has_credentials": True,
    }
    for reply in (
        alice.http.get(f"/api/v1/export-schedules/{created['id']}"),
        alice.http.get("/api/v1/export-schedules"),
    ):
        assert secret not in reply.text and S3_DESTINATION["access_key_id"] not in reply.text
    with psycopg.connect(database.url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT destination::text, credentials FROM exports.schedules WHERE id = %s", (created["id"],)
        ).fetchone()
    assert row is not None
    stored, sealed = row
    assert secret not in stored and secret.encode() not in bytes(sealed)
    assert S3_DESTINATION["access_key_id"].encode() not in bytes(sealed)
