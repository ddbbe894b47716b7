"""Sphinx configuration of the bayescale documentation site (``make docs``)."""

from __future__ import annotations

import bayescale

project = "bayescale"
author = "The bayescale developers"
release = version = bayescale.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# The user-guide pages also link to files of the repository (benchmarks, examples) that
# are not pages of the site; those links are left as they are.
suppress_warnings = ["myst.xref_missing"]
html_theme = "pydata_sphinx_theme"
html_title = f"bayescale {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
