"""Sphinx configuration."""

import smmapi

project = "smmapi"
author = "The smmapi developers"
copyright = "2026, The smmapi developers"
release = smmapi.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_static_path = ["_static"]
# Scroll shadows on code blocks and tables that are wider than the column (docs/_static/smmapi.css).
html_css_files = ["smmapi.css"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# The build runs where only package registries are reachable, so intersphinx inventories cannot
# be fetched: names from the standard library and httpx are left unlinked rather than broken.
nitpick_ignore_regex = [
    ("py:class", r"(collections\.abc|decimal|datetime|httpx|typing|types|os)\..*"),
    ("py:class", r"(Decimal|Mapping|Sequence|Iterable|Timeout|AsyncClient|AsyncBaseTransport)"),
    ("py:class", r"T"),  # the type parameter of Watch and Update
    # smmapi.tracking's Literal aliases of a journal entry's action and state, and its status type:
    # their values are listed on the "Durable orders" page.
    ("py:class", r"(Action|State|Status)"),
    ("py:class", r"(TracerProvider|MeterProvider)"),  # OpenTelemetry's, named only for type checkers
]
myst_heading_anchors = 3
