"""What a chat file may be called, and what it is called inside an archive.

A name is refused when any system the file may travel to would read it as something other than
one plain file: a path (separators, "." and ".."), a Windows device (CON, NUL.txt, COM1, ...), an
NTFS alternate data stream ("x:replace"), or a name Windows silently changes (a trailing dot). The
same rules hold for the name's NFKC form, since Windows' "best fit" conversions and many tools fold
compatibility characters ("．．／etc" becomes "../etc", "COM¹" becomes "COM1").

Names stored before these rules may break them; archives (the chat zip) call them by a safe and
unique stand-in from `archive_names`, which also replaces the characters Windows cannot hold in a
name ('<', '>', '"', '|', '?', '*'), which uploads keep.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from services.common.errors import InvalidArgument

MAX_FILENAME_BYTES = 255

# Bidirectional overrides and isolates make "evil\u202etxt.exe" display as "evilexe.txt".
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Device names, with or without an extension, in any case (Microsoft's "Naming Files, Paths, and
# Namespaces"); their superscript-digit spellings fold to these under NFKC.
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in range(10)}
)
# Characters no Windows name may hold; an archive replaces them (and anything unsafe) with "_".
_NOT_IN_WINDOWS_NAMES = frozenset('<>:"|?*/\\')


def _bad(message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"filename {message}", reason=reason, field="filename")


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS


def _device(name: str) -> str | None:
    """The Windows device a name stands for ("nul.txt" → "NUL"), or None."""
    base = name.split(".", 1)[0].rstrip(" ").upper()
    return base if base in _WINDOWS_DEVICES else None


def _check_form(name: str, spelled: str) -> None:
    """The rules a name must pass in its stored form and in its NFKC form; `spelled` says which."""
    if name != name.strip():
        raise _bad(f"must not begin or end with spaces{spelled}", "FILENAME_SURROUNDING_SPACE")
    if name in (".", ".."):
        raise _bad(f"must not be {name!r}{spelled}", "FILENAME_RESERVED")
    if "/" in name or "\\" in name:
        raise _bad(f"must not contain '/' or '\\'{spelled}", "FILENAME_HAS_SEPARATOR")
    for char in name:
        if _is_control(char):
            raise _bad(
                f"must not contain control characters, got U+{ord(char):04X}{spelled}",
                "FILENAME_HAS_CONTROL_CHARACTER",
            )
    if ":" in name:
        raise _bad(f"must not contain ':' (Windows reads it as a data stream){spelled}", "FILENAME_HAS_COLON")
    if name.endswith("."):
        raise _bad(f"must not end with '.' (Windows drops it){spelled}", "FILENAME_TRAILING_DOT")
    device = _device(name)
    if device is not None:
        raise _bad(
            f"must not be a Windows device name ({device}, with or without an extension){spelled}",
            "FILENAME_RESERVED_ON_WINDOWS",
        )


def check_filename(filename: str) -> str:
    """The NFC form of a valid filename, so two spellings of one name are one file."""
    if not filename:
        raise _bad("must not be empty", "FILENAME_EMPTY")
    if "\ufffd" in filename or any(0xD800 <= ord(c) <= 0xDFFF for c in filename):
        raise _bad("is not valid UTF-8", "FILENAME_NOT_UTF8")
    name = unicodedata.normalize("NFC", filename)
    _check_form(name, "")
    folded = unicodedata.normalize("NFKC", name)
    if folded != name:
        _check_form(folded, f" (its compatibility form is {folded[:100]!r})")
    size = len(name.encode())
    if size > MAX_FILENAME_BYTES:
        raise _bad(f"must be at most {MAX_FILENAME_BYTES} bytes of UTF-8, got {size}", "FILENAME_TOO_LONG")
    return name


def archive_name(name: str) -> str:
    """A name every system extracts as one plain file: the stored name when it is one already."""
    try:
        if check_filename(name) == name and _NOT_IN_WINDOWS_NAMES.isdisjoint(name):
            return name
    except InvalidArgument:
        pass
    folded = unicodedata.normalize("NFKC", name)
    safe = "".join("_" if c in _NOT_IN_WINDOWS_NAMES or _is_control(c) else c for c in folded)
    safe = safe.strip().rstrip(". ") or "_"
    if safe in (".", ".."):
        safe = "_" + safe
    if _device(safe) is not None:
        safe = "_" + safe
    return _shortened(safe, MAX_FILENAME_BYTES)


def _shortened(name: str, limit: int) -> str:
    """The name cut to `limit` bytes of UTF-8 at a character boundary, keeping a short extension."""
    if len(name.encode()) <= limit:
        return name
    dot = name.rfind(".")
    extension = name[dot:] if dot > 0 and len(name[dot:].encode()) <= 16 else ""
    stem = name[: len(name) - len(extension)].encode()[: limit - len(extension.encode())]
    return stem.decode(errors="ignore") + extension


def archive_names(names: Sequence[str]) -> list[str]:
    """Each name's archive name; a stand-in that would collide with another entry (in any case,
    as on Windows) is numbered "name (2).ext"."""
    result = [archive_name(n) for n in names]
    taken = {n.casefold() for n, safe in zip(names, result, strict=True) if n == safe}
    for index, (original, safe) in enumerate(zip(names, result, strict=True)):
        if original == safe:
            continue
        candidate, number = safe, 2
        while candidate.casefold() in taken:
            dot = safe.rfind(".")
            stem, extension = (safe[:dot], safe[dot:]) if dot > 0 else (safe, "")
            candidate = _shortened(f"{stem} ({number}){extension}", MAX_FILENAME_BYTES)
            number += 1
        taken.add(candidate.casefold())
        result[index] = candidate
    return result
