"""Helpers shared by the subcommands of the ``bayescale`` command line."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bayescale.core.errors import SpecificationError

__all__ = ["check_writable"]


def check_writable(path: Path) -> None:
    """Fail before sampling, not after, when the fit cannot be written."""
    if path.is_dir():
        raise SpecificationError(f"--out {str(path)!r} is a directory; give a file name")
    parent = path.parent.resolve()
    while not parent.exists():
        parent = parent.parent
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise SpecificationError(
            f"--out {str(path)!r}: cannot write in {str(parent)!r} ({exc.strerror or exc})"
        ) from None
