"""Prompt templates: a version's text with `{{ name }}` variables, filled in by RenderVersion.

The syntax is deliberately small: `{{`, optional spaces, a name of `[A-Za-z_][A-Za-z0-9_]*`, optional
spaces, `}}`. No logic, filters or escapes; text in braces that is not of that form (`{{ a.b }}`,
`{ x }`) stays as written. Values are inserted once, as they are: a value holding `{{ x }}` is not
expanded again. A render must name every variable the text uses and no other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from services.common.errors import InvalidArgument, ResourceExhausted

VARIABLE = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")
MAX_VARIABLES = 1000
# What one render may produce: ten times the largest text, far under a message's 4 MiB.
MAX_RENDERED_CHARS = 1_000_000


@dataclass(frozen=True)
class Rendered:
    text: str
    variables_used: list[str]


def variables(text: str) -> list[str]:
    """The variables a text uses, in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in VARIABLE.finditer(text)))


def render(text: str, values: Mapping[str, str]) -> Rendered:
    """The text with each variable replaced, or InvalidArgument naming every missing or unknown one."""
    if len(values) > MAX_VARIABLES:
        raise InvalidArgument(
            f"variables must hold at most {MAX_VARIABLES} entries, got {len(values)}", field="variables"
        )
    used = variables(text)
    missing = [name for name in used if name not in values]
    unknown = sorted(set(values) - set(used))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(unknown)} (the text does not use them)")
        raise InvalidArgument(
            f"variables: {'; '.join(parts)}",
            reason="TEMPLATE_VARIABLES",
            field="variables",
            metadata={"missing": ",".join(missing)[:200], "unknown": ",".join(unknown)[:200]},
        )
    matches = list(VARIABLE.finditer(text))
    size = len(text) + sum(len(values[m.group(1)]) - len(m.group(0)) for m in matches)
    if size > MAX_RENDERED_CHARS:
        raise ResourceExhausted(
            f"the rendered text would hold {size:,} characters, more than {MAX_RENDERED_CHARS:,}",
            reason="TOO_LARGE",
        )
    return Rendered(VARIABLE.sub(lambda m: values[m.group(1)], text), used)
