"""The template and diff rules without I/O: syntax, the names in errors, bounded cost."""

from __future__ import annotations

import random
import time

import pytest

from services.common.errors import InvalidArgument, ResourceExhausted
from services.prompts import diffs, templates
from services.prompts.labels import check_name


def test_only_names_in_double_braces_are_variables() -> None:
    text = "{{a}} {{ b_2 }} {{  c  }} {{ a.b }} {x} {{}} {{ 9x }} {{ a }}"
    assert templates.variables(text) == ["a", "b_2", "c"]
    rendered = templates.render(text, {"a": "1", "b_2": "2", "c": "{{a}}"})
    assert rendered.text == "1 2 {{a}} {{ a.b }} {x} {{}} {{ 9x }} 1"


def test_a_render_names_every_missing_and_unknown_variable() -> None:
    with pytest.raises(InvalidArgument) as caught:
        templates.render("{{ a }} {{ b }}", {"a": "1", "z": "2", "y": "3"})
    assert caught.value.message == "variables: missing b; unknown y, z (the text does not use them)"


def test_a_render_is_bounded_before_it_is_built() -> None:
    with pytest.raises(ResourceExhausted):
        templates.render("{{ a }}" * 20, {"a": "x" * 100_000})


def test_label_names_follow_the_contract() -> None:
    for good in ("production", "a", "v2-canary_x", "a" * 63):
        assert check_name(good, settable=True) == good
    for bad in ("", "Prod", "9lives", "123", "a" * 64, "-a", "a b", "ä"):
        with pytest.raises(InvalidArgument):
            check_name(bad)
    with pytest.raises(InvalidArgument):
        check_name("best", settable=True)


def test_word_changes_give_both_texts_back() -> None:
    old, new = "Keep it short, please.\nThanks", "Keep it very short!\nThanks a lot"
    changes = diffs.word_changes(old, new)
    assert "".join(c.text for c in changes if c.op != "insert") == old
    assert "".join(c.text for c in changes if c.op != "delete") == new


def test_two_texts_of_the_maximum_size_diff_in_bounded_time() -> None:
    words = ["alpha", "beta", "gamma", "delta"]
    rng = random.Random(7)
    old = " ".join(rng.choice(words) for _ in range(20_000))[:100_000]
    new = " ".join(rng.choice(words) for _ in range(20_000))[:100_000]
    started = time.process_time()
    result = diffs.diff(old, new, old_no=1, new_no=2, old_config=None, new_config=None)
    # A resource bound, not a speed claim: without the junk heuristic this took minutes of CPU.
    assert time.process_time() - started < 20
    assert "".join(c.text for c in result.changes if c.op != "insert") == old
