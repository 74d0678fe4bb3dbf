"""The fonts a PDF is set in, and which one draws each character.

PDF text only shows as real, extractable text when a font with that glyph is embedded. Fonts
come from PyPI wheels (nothing else is reachable where Depot is built), all under the SIL Open
Font License, which allows redistribution:
- `manimgx-fonts`: Noto Sans (Latin, Greek, Cyrillic), Noto Sans Symbols, Armenian, Georgian,
  Ethiopic and Noto Emoji (monochrome);
- `justmytype-intl-cjk`: Noto Sans SC, JP, TC and KR from Google Fonts.
All are TrueType-outline variable fonts; reportlab embeds their default instance. The CJK ones
default to the Thin weight, so they are drawn with a thin stroke to read like the regular weight.
Scripts that need shaping or right-to-left layout (Arabic, Hebrew, Indic, Thai) are deliberately
absent: reportlab would draw them unjoined or reversed, and an error is better than wrong text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

from services.common.errors import FailedPrecondition

_LISTED_AT_MOST = 20


class UnsupportedCharacters(FailedPrecondition):
    """Text has characters none of the embedded fonts can draw."""

    default_reason = "UNSUPPORTED_CHARACTERS"

    def __init__(self, characters: Iterable[str]) -> None:
        self.characters = list(dict.fromkeys(characters))
        listed = ", ".join(f"U+{ord(char):04X} {char}" for char in self.characters[:_LISTED_AT_MOST])
        more = len(self.characters) - _LISTED_AT_MOST
        listed += f" and {more} more" if more > 0 else ""
        super().__init__(
            f"the PDF cannot show {len(self.characters)} character(s) that no embedded font covers: {listed}; "
            "export this source as docx, xlsx, json or text instead"
        )


@dataclass(frozen=True)
class FontFace:
    name: str  # the name registered with reportlab
    package: str
    resource: str  # path of the .ttf inside the package
    thin: bool = False  # a Thin default instance, stroked to look regular


FACES = (
    FontFace("DepotSans", "manimgx_fonts", "NotoSans[wght].ttf"),
    FontFace("DepotSymbols", "manimgx_fonts", "NotoSansSymbols[wght].ttf"),
    FontFace("DepotArmenian", "manimgx_fonts", "NotoSansArmenian[wght].ttf"),
    FontFace("DepotGeorgian", "manimgx_fonts", "NotoSansGeorgian[wght].ttf"),
    FontFace("DepotEthiopic", "manimgx_fonts", "NotoSansEthiopic[wght].ttf"),
    FontFace("DepotSC", "justmytype_intl_cjk", "fonts/ofl/notosanssc/NotoSansSC[wght].ttf", thin=True),
    FontFace("DepotJP", "justmytype_intl_cjk", "fonts/ofl/notosansjp/NotoSansJP[wght].ttf", thin=True),
    FontFace("DepotTC", "justmytype_intl_cjk", "fonts/ofl/notosanstc/NotoSansTC[wght].ttf", thin=True),
    FontFace("DepotKR", "justmytype_intl_cjk", "fonts/ofl/notosanskr/NotoSansKR[wght].ttf", thin=True),
    # Last: Noto Emoji also has digits, '#' and '*' (for keycaps), which the text faces should draw.
    FontFace("DepotEmoji", "manimgx_fonts", "NotoEmoji[wght].ttf"),
)
PRIMARY = 0  # index of the face that draws ASCII

# Invisible format characters (joiners, bidi marks, variation selectors) carry no glyph of
# their own; dropping them beats refusing emoji sequences and RTL marks over them.
_INVISIBLE_CATEGORIES = frozenset({"Cf"})
_VARIATION_SELECTORS = frozenset(range(0xFE00, 0xFE10)) | frozenset(range(0xE0100, 0xE01F0))


class FontChain:
    """Picks, for each character, the first face that has a glyph for it; loads faces on demand."""

    def __init__(self, faces: tuple[FontFace, ...] = FACES) -> None:
        self.faces = faces
        self.fonts: list[TTFont] = []
        self._face_of: dict[str, int] = {}  # character → face index, -1 when no face has it
        self._widths: dict[str, float] = {}  # character → advance in 1/1000 em
        self._lock = threading.Lock()
        self._load_next()

    @property
    def primary(self) -> TTFont:
        return self.fonts[PRIMARY]

    def face_of(self, char: str) -> int:
        """Index of the face that draws `char`, or -1."""
        index = self._face_of.get(char)
        if index is None:
            index = self._find_face(ord(char))
            self._face_of[char] = index
        return index

    def width(self, char: str) -> float:
        """Advance width of `char` in 1/1000 em, in the face that draws it."""
        width = self._widths.get(char)
        if width is None:
            face = self.fonts[max(self.face_of(char), PRIMARY)].face
            width = face.charWidths.get(ord(char), face.defaultWidth)
            self._widths[char] = width
        return width

    def prepare(self, text: str) -> str:
        """Text ready to draw: NFC, invisible characters dropped; raises if a character has no face."""
        text = unicodedata.normalize("NFC", text)
        kept = [char for char in text if not _invisible(char)]
        missing = [char for char in kept if char != "\n" and self.face_of(char) < 0]
        if missing:
            raise UnsupportedCharacters(missing)
        return "".join(kept)

    def _find_face(self, codepoint: int) -> int:
        checked = 0
        while True:
            fonts = self.fonts
            for index in range(checked, len(fonts)):
                if fonts[index].face.charToGlyph.get(codepoint):  # glyph 0 is .notdef: a box
                    return index
            checked = len(fonts)
            with self._lock:  # load the next face unless another thread just did
                if len(self.fonts) == checked:
                    if checked == len(self.faces):
                        return -1
                    self._load_next()

    def _load_next(self) -> TTFont:
        face = self.faces[len(self.fonts)]
        try:
            font = pdfmetrics.getFont(face.name)
        except KeyError:
            font = TTFont(face.name, str(files(face.package).joinpath(face.resource)))
            pdfmetrics.registerFont(font)
        self.fonts.append(font)
        return font


def _invisible(char: str) -> bool:
    if char < "\u00ad":  # nothing below the soft hyphen is a format character
        return False
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES or ord(char) in _VARIATION_SELECTORS


_shared_chain: FontChain | None = None
_shared_lock = threading.Lock()


def shared_font_chain() -> FontChain:
    """The process-wide chain: fonts are registered with reportlab globally, so load them once."""
    global _shared_chain
    with _shared_lock:
        if _shared_chain is None:
            _shared_chain = FontChain()
        return _shared_chain


# reportlab writes the ToUnicode entry of a character beyond U+FFFF as its bare code point
# ("<1F44D>", an odd number of hex digits), so PDF readers extract emoji and CJK Extension B
# as garbage. A ToUnicode value must be UTF-16BE: a surrogate pair for those characters.
_ASTRAL_ENTRY = re.compile(r"<([0-9A-F]{2})> <([0-9A-F]{5,6})>")
_reportlab_to_unicode_cmap = ttfonts.makeToUnicodeCMap


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    cmap: str = _reportlab_to_unicode_cmap(fontname, subset)
    return _ASTRAL_ENTRY.sub(lambda entry: f"<{entry[1]}> <{_utf16_hex(int(entry[2], 16))}>", cmap)


def _utf16_hex(codepoint: int) -> str:
    return chr(codepoint).encode("utf-16-be").hex().upper()


ttfonts.makeToUnicodeCMap = _to_unicode_cmap
