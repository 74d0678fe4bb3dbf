"""PDF text operators for one page, written as strings and handed to the canvas in one piece.

reportlab's `textOut` re-splits every string into font subsets character by character in
Python and measures it again; that was most of the time of a table. Here a line of ASCII in the
primary face, the common case, becomes `(text) Tj` directly: with reportlab's default
"ASCII readable" subsetting, printable ASCII keeps its own codes in subset 0. Any other run goes
through reportlab's `splitString`, which also records the glyphs to embed.
"""

from __future__ import annotations

from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from services.exports.rendering.renderers.pdf_fonts import PRIMARY, FontChain

_PRINTABLE_ASCII = "".join(chr(code) for code in range(32, 127))


class TextStream:
    """Collects text for the current page: `line()` many times, then `flush()` once."""

    def __init__(self, canvas: Canvas, fonts: FontChain, thin_stroke: float) -> None:
        self.canvas = canvas
        self.fonts = fonts
        self.thin_faces = frozenset(index for index, face in enumerate(fonts.faces) if face.thin)
        self.thin_stroke = thin_stroke
        self._doc = canvas._doc  # reportlab's dynamic fonts keep their subsets per document
        self._ascii_fast = self._ascii_keeps_codes(fonts.primary)
        self._parts: list[str] = []
        self._font: tuple[int, int, float] = (-1, -1, 0.0)  # face, subset, size now selected
        self._thin = False
        self._gray = 0.0
        self._reset_state()

    def line(self, x: float, y: float, runs: list[tuple[int, str]], size: float, gray: float = 0.0) -> None:
        """Draw one line of (face index, text) runs with its baseline starting at (x, y)."""
        parts = self._parts
        if gray != self._gray:
            parts.append(f"{fp_str(gray)} g {fp_str(gray)} G")  # stroke too: thin faces are stroked
            self._gray = gray
        parts.append(f"1 0 0 1 {x:.2f} {y:.2f} Tm")
        for face, text in runs:
            if not text:
                continue
            if face == PRIMARY and self._ascii_fast and text.isascii():
                self._select(face, 0, size)
                parts.append(f"({escapePDF(text)}) Tj")
                continue
            font = self.fonts.fonts[face]
            for subset, codes in font.splitString(text, self._doc):
                self._select(face, subset, size)
                parts.append(f"({escapePDF(codes)}) Tj")

    def flush(self) -> None:
        """Write the collected text into the page; call before `showPage`."""
        if len(self._parts) > 2:
            self._parts.append("ET Q")  # q…Q: colour, line width and render mode do not leak out
            self.canvas.addLiteral("\n".join(self._parts))
        self._reset_state()

    def _select(self, face: int, subset: int, size: float) -> None:
        if (face, subset, size) == self._font:
            return
        name = self.fonts.fonts[face].getSubsetInternalName(subset, self._doc)
        self._parts.append(f"{name} {fp_str(size)} Tf")
        self._font = (face, subset, size)
        thin = face in self.thin_faces
        if thin:
            # Thin CJK faces are filled and stroked with a stroke as wide as the size asks.
            self._parts.append(f"2 Tr {fp_str(size * self.thin_stroke)} w")
        elif self._thin:
            self._parts.append("0 Tr")
        self._thin = thin

    def _reset_state(self) -> None:
        self._parts = ["q 0 g 0 G", "BT"]
        self._font = (-1, -1, 0.0)
        self._thin = False
        self._gray = 0.0

    def _ascii_keeps_codes(self, font: TTFont) -> bool:
        return bool(font.splitString(_PRINTABLE_ASCII, self._doc) == [(0, _PRINTABLE_ASCII.encode())])
