"""Helpers of the example gallery (sphinx-gallery), named by string in ``docs/conf.py``.

Each script under ``examples/`` takes ``--out FOLDER`` and writes its figures there as PNG
files (bayescale builds figures without pyplot, so sphinx-gallery's matplotlib scraper
sees none). :func:`reset_argv` gives every example its own empty folder under
``docs/_build/gallery_output``; :func:`png_scraper` puts the PNG files a code block wrote
into the page, after the block's output; :class:`ExampleOrder` orders the gallery;
:func:`format_warning` shows a Python warning an example raises as ``Category: message``
(no file path of the machine that built the site).

They live in a module (not in ``conf.py``) so that sphinx-gallery's configuration holds
only strings and stays picklable, as Sphinx needs to cache it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: Where the examples write their files during ``make docs`` (one folder per example).
OUTPUT = Path(__file__).resolve().parent / "_build" / "gallery_output"

#: The gallery's order: from the quick start to many fits.
ORDER = (
    "quickstart.py",
    "new_family.py",
    "checkpoints_seeds.py",
    "compare_laws.py",
    "compute_optimal.py",
    "inference_scaling.py",
    "voting_compute.py",
    "emergence.py",
    "fit_many_dask.py",
)

_seen: dict[str, set[Path]] = {}


def _folder(src_file: str) -> Path:
    return OUTPUT / Path(src_file).stem


def reset_argv(gallery_conf: dict[str, Any], script_vars: dict[str, Any]) -> list[str]:
    """Command-line arguments of an example: ``--out`` an emptied folder of its own."""
    folder = _folder(script_vars["src_file"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _seen[str(script_vars["src_file"])] = set()
    return ["--out", str(folder)]


def png_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """Embed the PNG files that the last code block wrote into the example's ``--out``."""
    from sphinx_gallery.scrapers import figure_rst

    src_file = str(block_vars["src_file"])
    seen = _seen.setdefault(src_file, set())
    folder = _folder(src_file)
    new = [p for p in folder.rglob("*.png") if p not in seen] if folder.is_dir() else []
    images = []
    for png, target in zip(
        sorted(new, key=lambda p: p.stat().st_mtime),
        block_vars["image_path_iterator"],
        strict=False,
    ):
        shutil.copyfile(png, target)
        seen.add(png)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


def format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """``warnings.formatwarning`` for the gallery: the category and the message only."""
    return f"{category.__name__}: {message}\n"


class ExampleOrder:
    """Sort key of the examples: their position in :data:`ORDER` (others last, by name)."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __call__(self, filename: str) -> tuple[int, str]:
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)
