"""The rules of export requests, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import InvalidArgument, PermissionDenied
from services.exports import rules
from services.exports.rendering.sources import CsvLineCounter


def request(source: str, fmt: str = "csv", *, admin: bool = False, **options: object) -> rules.ExportRequest:
    return rules.export_request(source=source, fmt=fmt, options=options, is_admin=admin)


def test_defaults_are_filled_in_so_equal_requests_share_a_cache_key() -> None:
    plain = request("prompts/6F9619FF-8B86-D011-B42D-00C04FC964FF", "json")
    explicit = request(
        "prompts/6f9619ff-8b86-d011-b42d-00c04fc964ff", "JSON", include_workflow=True, csv_mode="safe"
    )
    assert plain == explicit and plain.options_hash == explicit.options_hash
    assert request("datasets/temporal").options == {"all_users": False, "csv_mode": "safe"}
    assert (
        request("datasets/temporal", csv_mode="raw").options_hash != request("datasets/temporal").options_hash
    )


def test_media_type_and_file_name_follow_the_format() -> None:
    assert request("datasets/all", "csv").filename == "dataset-all.zip"
    assert request("datasets/all", "csv").media_type == "application/zip"
    assert request("datasets/temporal", "markdown").filename == "dataset-temporal.md"
    assert request("chats/c1", "zip").filename == "chat-c1.zip"


@pytest.mark.parametrize(
    ("source", "fmt", "options"),
    [
        ("prompts/", "json", {}),
        ("prompts/a/b", "json", {}),
        ("users/1", "json", {}),
        ("datasets/everything", "csv", {}),
        ("datasets/temporal", "zip", {}),
        ("chats/c1", "csv", {}),
        ("datasets/temporal", "csv", {"csv_mode": 1}),
        ("datasets/temporal", "csv", {"all_users": "yes"}),
        ("artifacts/1", "csv", {"include_workflow": True}),
    ],
)
def test_invalid_requests_are_invalid_arguments(source: str, fmt: str, options: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        request(source, fmt, **options)


def test_every_users_data_needs_an_admin() -> None:
    with pytest.raises(PermissionDenied):
        request("datasets/all", all_users=True)
    assert request("datasets/all", admin=True, all_users=True).options["all_users"] is True


def test_rate_limit_says_when_to_retry() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rules.check_render_rate(renders=9, oldest=now, now=now, limit=10)
    with pytest.raises(rules.RateLimited) as raised:
        rules.check_render_rate(renders=10, oldest=now - timedelta(seconds=45), now=now, limit=10)
    assert raised.value.retry_after == 15 and raised.value.code == "RESOURCE_EXHAUSTED"


def test_share_links_last_an_hour_by_default_and_a_week_at_most() -> None:
    assert rules.share_link_seconds(0) == 3600
    with pytest.raises(InvalidArgument):
        rules.share_link_seconds(8 * 24 * 3600)


@pytest.mark.parametrize("split", [1, 2, 3, 5, 1000])
def test_csv_records_are_counted_across_chunks_and_quoted_newlines(split: int) -> None:
    data = b'a,b\n1,"two\nlines"\n2,"say ""hi""\n"\n3,plain\n4,""\n5,"x""\n""y"\n6,"""\n"""'
    counter = CsvLineCounter()
    for start in range(0, len(data), split):
        counter.feed(data[start : start + split])
    assert counter.records == 7  # the header and six rows
