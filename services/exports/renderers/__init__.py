"""Streaming renderers of export reports: json, yaml, markdown, text, csv, xlsx, pdf, docx, zip."""

from services.exports.renderers.csv_zip import render_zip
from services.exports.renderers.formats import FORMATS, OUTPUT_TYPES, RENDERER_VERSION, output_type, render
from services.exports.renderers.model import Cell, OutputType, RenderOptions, Report, Table
from services.exports.renderers.pdf_fonts import UnsupportedCharacters

__all__ = [
    "FORMATS",
    "OUTPUT_TYPES",
    "RENDERER_VERSION",
    "Cell",
    "OutputType",
    "RenderOptions",
    "Report",
    "Table",
    "UnsupportedCharacters",
    "output_type",
    "render",
    "render_zip",
]
