"""The files domain's pure rules and the gateway's header parsing, without I/O."""

from __future__ import annotations

import pytest

from gateway.file_headers import RangeRequest, byte_range, content_disposition, entity_tags
from services.common.errors import FailedPrecondition, InvalidArgument
from services.files import rules


@pytest.mark.parametrize(
    ("start", "end", "suffix", "expected"),
    [
        (None, None, None, rules.ByteRange(0, 10, False)),
        (0, 0, None, rules.ByteRange(0, 1, True)),
        (3, None, None, rules.ByteRange(3, 7, True)),
        (3, 100, None, rules.ByteRange(3, 7, True)),
        (None, None, 4, rules.ByteRange(6, 4, True)),
        (None, None, 40, rules.ByteRange(0, 10, True)),
        (10, None, None, None),
        (None, None, 0, None),
    ],
)
def test_resolve_range(start: int | None, end: int | None, suffix: int | None, expected: object) -> None:
    assert rules.resolve_range(10, start=start, end=end, suffix=suffix) == expected


def test_any_range_of_an_empty_file_is_unsatisfiable() -> None:
    assert rules.resolve_range(0, start=0, end=None, suffix=None) is None
    assert rules.resolve_range(0, start=None, end=None, suffix=5) is None
    assert rules.resolve_range(0, start=None, end=None, suffix=None) == rules.ByteRange(0, 0, False)


def test_inverted_or_negative_ranges_are_invalid() -> None:
    with pytest.raises(InvalidArgument):
        rules.resolve_range(10, start=5, end=2, suffix=None)
    with pytest.raises(InvalidArgument):
        rules.resolve_range(10, start=-1, end=None, suffix=None)


def test_chunk_plan_covers_the_range_across_pieces() -> None:
    assert rules.chunk_plan(0, 0, 4) == []
    assert rules.chunk_plan(0, 10, 4) == [(0, 0, 4), (1, 0, 4), (2, 0, 2)]
    assert rules.chunk_plan(3, 6, 4) == [(0, 3, 1), (1, 0, 4), (2, 0, 1)]


def test_filename_is_normalised_to_nfc() -> None:
    assert rules.check_filename("cafe\u0301.txt") == "caf\u00e9.txt"


def test_preconditions() -> None:
    rules.check_preconditions("abc", if_match=["abc"], if_none_match=False)
    rules.check_preconditions("abc", if_match=["*"], if_none_match=False)
    rules.check_preconditions(None, if_match=[], if_none_match=True)
    for current, if_match, if_none_match in (
        ("abc", ["W/abc"], False),
        (None, ["*"], False),
        ("abc", [], True),
    ):
        with pytest.raises(FailedPrecondition):
            rules.check_preconditions(current, if_match=if_match, if_none_match=if_none_match)


def test_replace_text_counts_and_limits() -> None:
    assert rules.replace_text(b"a a a", old_text="a", new_text="b", count=None) == (b"b b b", 3)
    assert rules.replace_text(b"a a a", old_text="a", new_text="b", count=2) == (b"b b a", 2)
    assert rules.replace_text(b"a", old_text="a", new_text="b", count=5) == (b"b", 1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", RangeRequest(0, 9, None)),
        ("bytes=5-", RangeRequest(5, None, None)),
        ("bytes=-3", RangeRequest(None, None, 3)),
        ("bytes=9-5", None),
        ("bytes=0-1,3-4", None),
        ("bytes=-", None),
        ("lines=0-1", None),
        (None, None),
    ],
)
def test_byte_range_header(header: str | None, expected: RangeRequest | None) -> None:
    assert byte_range(header) == expected


def test_entity_tags() -> None:
    assert entity_tags('"abc", W/"def" ,ghi') == ["abc", 'W/"def"', "ghi"]
    assert entity_tags(" * ") == ["*"]
    assert entity_tags(None) == entity_tags("") == []


def test_content_disposition_falls_back_to_ascii_and_never_breaks_the_header() -> None:
    assert (
        content_disposition("plain.txt") == "attachment; filename=\"plain.txt\"; filename*=UTF-8''plain.txt"
    )
    assert content_disposition("日本.txt") == (
        "attachment; filename=\".txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"
    )
    assert (
        content_disposition("日本")
        == "attachment; filename=\"download\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC"
    )
    assert "\r" not in content_disposition("a\r\nSet-Cookie: x")
