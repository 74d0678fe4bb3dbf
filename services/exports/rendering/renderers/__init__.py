"""Streaming renderers of export reports: json, yaml, markdown, text, csv, xlsx, pdf, docx, zip,
jsonl and parquet."""

from services.exports.rendering.renderers.csv_zip import render_zip
from services.exports.rendering.renderers.formats import (
    FORMATS,
    RENDERER_VERSION,
    render,
)
from services.exports.rendering.renderers.model import Cell, ColumnType, RenderOptions, Report, Table
from services.exports.rendering.renderers.pdf_fonts import UnsupportedCharacters

__all__ = [
    "FORMATS",
    "RENDERER_VERSION",
    "Cell",
    "ColumnType",
    "RenderOptions",
    "Report",
    "Table",
    "UnsupportedCharacters",
    "render",
    "render_zip",
]
