"""The files domain's pure rules and the gateway's header parsing, without I/O."""

from __future__ import annotations

import random

import pytest

from gateway.file_headers import (
    BEYOND_ANY_FILE,
    EntityTag,
    EntityTags,
    RangeRequest,
    byte_range,
    content_disposition,
    entity_tags,
    if_range_tag,
)
from services.common.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from services.files import editing, names, rules


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
    rules.check_preconditions("abc", if_match=["abc"], if_none_match=[])
    rules.check_preconditions("abc", if_match=["*"], if_none_match=[])
    rules.check_preconditions(None, if_match=[], if_none_match=["*"])
    rules.check_preconditions(None, if_match=[], if_none_match=["abc"])
    rules.check_preconditions("abc", if_match=[], if_none_match=["other"])
    for current, if_match, if_none_match in (
        ("abc", ["W/abc"], []),
        ("abc", [""], []),
        (None, ["*"], []),
        ("abc", [], ["*"]),
        ("abc", [], ["other", "abc"]),
    ):
        with pytest.raises(FailedPrecondition):
            rules.check_preconditions(current, if_match=if_match, if_none_match=if_none_match)


def _replace_text(content: bytes, *, old_text: str, new_text: str, count: int | None) -> tuple[bytes, int]:
    old, new = old_text.encode(), new_text.encode()
    plan = editing.plan(content, old=old, new=new, count=count, limit=10**9)
    result = b"".join(editing.edited(content, old=old, new=new, replacements=plan.replacements))
    assert len(result) == plan.size
    return result, plan.replacements


def test_replace_text_counts_and_limits() -> None:
    assert _replace_text(b"a a a", old_text="a", new_text="b", count=None) == (b"b b b", 3)
    assert _replace_text(b"a a a", old_text="a", new_text="b", count=2) == (b"b b a", 2)
    assert _replace_text(b"a", old_text="a", new_text="b", count=5) == (b"b", 1)


@pytest.mark.parametrize("window", [2, 3, 5, 8, 64])
def test_an_edit_in_small_windows_matches_str_replace(monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    # Windows far smaller than the matches put every boundary case (a match straddling a cut,
    # overlapping candidates such as "aa" in "aaa") in play; the result must be str.replace's.
    monkeypatch.setattr(editing, "SCAN_BYTES", window)
    monkeypatch.setattr(editing, "OUTPUT_BYTES", window)
    generator = random.Random(window)
    for _ in range(400):
        text = "".join(generator.choice("aab é") for _ in range(generator.randrange(0, 60)))
        old = "".join(generator.choice("ab é") for _ in range(generator.randrange(1, 4)))
        new = "".join(generator.choice("xyé") for _ in range(generator.randrange(0, 7)))
        count = generator.choice([None, 1, 2, 5])
        found = text.count(old) if count is None else min(count, text.count(old))
        if found == 0:
            continue
        expected = text.replace(old, new, found).encode()
        assert _replace_text(text.encode(), old_text=old, new_text=new, count=count) == (expected, found), (
            text,
            old,
            new,
            count,
        )


def test_an_edit_is_refused_before_it_is_built_when_its_result_passes_the_limit() -> None:
    with pytest.raises(ResourceExhausted) as caught:
        editing.plan(b"a" * 1000, old=b"a", new=b"b" * 500, count=None, limit=10_000)
    assert caught.value.reason == "FILE_TOO_LARGE"
    assert editing.plan(b"a" * 10, old=b"a", new=b"bb", count=None, limit=20) == editing.Plan(10, 20)


def test_an_edit_of_text_that_is_not_utf8_is_refused_with_the_offset() -> None:
    with pytest.raises(InvalidArgument, match="offset 3") as caught:
        editing.plan(b"caf\xe9 ok", old=b"ok", new=b"", count=None, limit=100)
    assert caught.value.reason == "NOT_UTF8_TEXT"
    with pytest.raises(InvalidArgument) as caught:
        editing.plan(b"x", old=b"y", new=b"", count=None, limit=100)
    assert caught.value.reason == "TEXT_NOT_FOUND"


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
    tags = entity_tags('"abc", W/"def" ,ghi, "a,b"')
    assert tags == EntityTags(
        any=False,
        tags=(
            EntityTag("abc", weak=False),
            EntityTag("def", weak=True),
            EntityTag("ghi", weak=False),
            EntityTag("a,b", weak=False),
        ),
    )
    assert (tags.strong(), tags.weak()) == (["abc", "ghi", "a,b"], ["abc", "def", "ghi", "a,b"])
    assert entity_tags(" * ") == EntityTags(any=True, tags=())
    assert entity_tags(" * ").strong() == entity_tags("*").weak() == ["*"]  # type: ignore[union-attr]
    assert entity_tags(None) is None
    assert entity_tags("") == entity_tags(",,,") == EntityTags(any=False, tags=())
    assert entity_tags('""') == EntityTags(any=False, tags=(EntityTag("", weak=False),))


def test_if_range_names_a_strong_tag_or_nothing_that_matches() -> None:
    assert if_range_tag(None) is None
    assert if_range_tag('"abc"') == "abc"
    for header in ('W/"abc"', "Sat, 29 Oct 1994 19:43:31 GMT", "abc", '"a", "b"', "*"):
        assert if_range_tag(header) == "", header


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=9223372036854775808-", RangeRequest(BEYOND_ANY_FILE, None, None)),
        ("bytes=" + "9" * 5000 + "-", RangeRequest(BEYOND_ANY_FILE, None, None)),
        ("bytes=0-" + "9" * 5000, RangeRequest(0, BEYOND_ANY_FILE, None)),
        ("bytes=-" + "9" * 5000, RangeRequest(None, None, BEYOND_ANY_FILE)),
        ("bytes=" + "0" * 5000 + "5-", RangeRequest(5, None, None)),
        ("bytes=" + "9" * 30 + "-5", None),
        ("bytes=\u0663-", None),  # an Arabic-Indic digit is no HTTP digit
    ],
)
def test_byte_positions_are_bounded_before_they_are_converted(
    header: str, expected: RangeRequest | None
) -> None:
    assert byte_range(header) == expected
    assert rules.resolve_range(10, start=BEYOND_ANY_FILE, end=None, suffix=None) is None
    assert rules.resolve_range(10, start=None, end=None, suffix=BEYOND_ANY_FILE) == rules.ByteRange(
        0, 10, True
    )


def test_a_range_whose_if_range_names_other_content_is_the_whole_file() -> None:
    assert rules.resolve_range(10, start=5, end=None, suffix=None, if_range="v1", sha256="v2") == (
        rules.ByteRange(0, 10, False)
    )
    assert rules.resolve_range(10, start=5, end=None, suffix=None, if_range="v2", sha256="v2") == (
        rules.ByteRange(5, 5, True)
    )
    assert rules.resolve_range(10, start=5, end=None, suffix=None, if_range="", sha256="v2") == (
        rules.ByteRange(0, 10, False)
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("CON", "FILENAME_RESERVED_ON_WINDOWS"),
        ("con", "FILENAME_RESERVED_ON_WINDOWS"),
        ("NUL.txt", "FILENAME_RESERVED_ON_WINDOWS"),
        ("aux .tar.gz", "FILENAME_RESERVED_ON_WINDOWS"),
        ("COM\u00b9.log", "FILENAME_RESERVED_ON_WINDOWS"),  # COM¹ is COM1 to Windows
        ("LPT9", "FILENAME_RESERVED_ON_WINDOWS"),
        ("a.txt.", "FILENAME_TRAILING_DOT"),
        ("x:replace", "FILENAME_HAS_COLON"),
        ("a\uff1ab", "FILENAME_HAS_COLON"),  # a fullwidth colon folds to ':'
        ("\uff0e\uff0e\uff0fetc", "FILENAME_HAS_SEPARATOR"),  # "．．／etc" folds to "../etc"
        ("\uff0e\uff0e", "FILENAME_RESERVED"),
    ],
)
def test_names_windows_would_read_as_something_else_are_refused(name: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        rules.check_filename(name)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "name", ["CONSOLE.txt", "nul-report.md", "a.b.c", "..notes", 'say "hi".txt', "\uff21.txt"]
)
def test_names_that_only_look_reserved_are_accepted(name: str) -> None:
    assert rules.check_filename(name) == name


def test_archive_names_are_safe_unique_stand_ins_for_legacy_names_only() -> None:
    legacy = [
        "CON",
        "NUL.txt",
        "a.txt.",
        "x:replace",
        "\uff0e\uff0e\uff0fetc",
        'q"?.txt',
        "_CON",
        "ok.txt",
        "con",
    ]
    assert names.archive_names(legacy) == [
        "_CON (2)",
        "_NUL.txt",
        "a.txt",
        "x_replace",
        ".._etc",
        "q__.txt",
        "_CON",
        "ok.txt",
        "_con (3)",
    ]
    for safe in names.archive_names(legacy):
        assert rules.check_filename(safe) == safe, safe


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
