"""Sphinx configuration of the bayescale documentation site (``make docs``)."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import bayescale

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gallery_support  # docs/gallery_support.py, found through the line above

# Warnings that the examples raise appear in their pages as "Category: message".
warnings.formatwarning = gallery_support.format_warning

project = "bayescale"
author = "The bayescale developers"
release = version = bayescale.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
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

# The example gallery (sphinx-gallery): every script under examples/ runs when the docs
# build, and its printed output and PNG figures go into its page (docs/gallery/, generated;
# docs/gallery_support.py passes --out and collects the figures).
# CI time, the choice: full chains (they fit the 90-minute limit beside `make test`) and
# sphinx-gallery's cache for rebuilds; no short-chain switch. The
# scripts keep their own sampler settings (4 chains x 1000 draws or more), because a page
# should show the converged fit it describes. A fresh clone executes all nine: 5.6 to 6.4
# minutes on 2 shared cores, 6.4 to 7.1 for the whole build (two builds, December 2026,
# with bayescale's on-disk compile cache warm: in .ci/run, `make test` runs first and fills
# it, and runs the examples a second time, in tests/test_examples.py). A rebuild re-runs
# only the scripts whose content changed (an MD5 of each script in docs/gallery/). Without
# running any: make docs SPHINXOPTS="-D plot_gallery=0".
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "gallery",
    "filename_pattern": re.escape("/"),  # execute every script, not only plot_*.py
    "within_subsection_order": "gallery_support.ExampleOrder",
    "reset_argv": "gallery_support.reset_argv",
    "image_scrapers": ("matplotlib", "gallery_support.png_scraper"),
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 10,
    "show_memory": False,
    "capture_repr": (),
}
