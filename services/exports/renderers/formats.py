"""The one entry point: a report and a format name in, a stream of bytes out."""

from __future__ import annotations

from collections.abc import Iterator

from services.exports.renderers.csv_zip import render_csv
from services.exports.renderers.docx_document import render_docx
from services.exports.renderers.json_yaml import render_json, render_yaml
from services.exports.renderers.model import OutputType, RenderOptions, Report
from services.exports.renderers.pdf_document import render_pdf
from services.exports.renderers.text_formats import render_markdown, render_text
from services.exports.renderers.xlsx_workbook import render_xlsx

# Recorded in each export's receipt: bump it whenever the bytes a format produces change, so
# stored renderings made by an older renderer can be told apart (and re-rendered).
RENDERER_VERSION = "2.0.0"

OUTPUT_TYPES: dict[str, OutputType] = {
    "json": OutputType("application/json", "json"),
    "yaml": OutputType("application/yaml", "yaml"),
    "markdown": OutputType("text/markdown; charset=utf-8", "md"),
    "text": OutputType("text/plain; charset=utf-8", "txt"),
    "csv": OutputType("text/csv; charset=utf-8", "csv"),
    "xlsx": OutputType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": OutputType("application/pdf", "pdf"),
    "docx": OutputType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "zip": OutputType("application/zip", "zip"),
}
FORMATS = frozenset(OUTPUT_TYPES) - {"zip"}  # what `render` accepts; zip is render_zip's


def output_type(fmt: str, *, table_count: int = 1) -> OutputType:
    """Media type and extension of a rendering; csv of several tables is a zip of csv files."""
    if fmt == "csv" and table_count > 1:
        return OUTPUT_TYPES["zip"]
    try:
        return OUTPUT_TYPES[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {sorted(OUTPUT_TYPES)}") from None


def render(report: Report, fmt: str, options: RenderOptions | None = None) -> Iterator[bytes]:
    """Stream `report` in format `fmt` as chunks of about 64 KiB.

    Rows are pulled from the report's tables as the chunks are pulled, so errors in the source
    (and UnsupportedCharacters for a PDF) surface while iterating, not at this call.
    """
    options = options or RenderOptions()
    match fmt:
        case "json":
            return render_json(report)
        case "yaml":
            return render_yaml(report)
        case "markdown":
            return render_markdown(report)
        case "text":
            return render_text(report)
        case "csv":
            return render_csv(report, options.csv_mode)
        case "xlsx":
            return render_xlsx(report, options.csv_mode)
        case "pdf":
            return render_pdf(report)
        case "docx":
            return render_docx(report)
    raise ValueError(f"unknown export format {fmt!r}; expected one of {sorted(FORMATS)}")
