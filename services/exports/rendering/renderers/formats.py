"""The one entry point: a report and a format name in, a stream of bytes out."""

from __future__ import annotations

from collections.abc import Iterator

from services.exports.rendering.renderers.csv_zip import render_csv
from services.exports.rendering.renderers.docx_document import render_docx
from services.exports.rendering.renderers.json_yaml import render_json, render_yaml
from services.exports.rendering.renderers.jsonl import render_jsonl
from services.exports.rendering.renderers.model import RenderOptions, Report
from services.exports.rendering.renderers.parquet import render_parquet
from services.exports.rendering.renderers.pdf_document import render_pdf
from services.exports.rendering.renderers.text_formats import render_markdown, render_text
from services.exports.rendering.renderers.xlsx_workbook import render_xlsx

# Recorded in each export's receipt: bump it whenever the bytes a format produces change, so
# stored renderings made by an older renderer can be told apart (and re-rendered).
RENDERER_VERSION = "2.0.0"

# zip is render_zip's; jsonl and parquet write one file per table and need the columns' types (parquet).
FORMATS = frozenset(("json", "yaml", "markdown", "text", "csv", "xlsx", "pdf", "docx", "jsonl", "parquet"))


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
        case "jsonl":
            return render_jsonl(report)
        case "parquet":
            return render_parquet(report)
    raise ValueError(f"unknown export format {fmt!r}; expected one of {sorted(FORMATS)}")
