"""The API reference (docs/api/index.rst) lists every public name of the three namespaces
(submodules re-exported by a namespace are named in its prose, not listed)."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api" / "index.rst"


def _listed() -> dict[str, set[str]]:
    """Names under each ``.. currentmodule::`` of the reference, by module."""
    listed: dict[str, set[str]] = {}
    for section in re.split(r"\.\. currentmodule:: ", API.read_text())[1:]:
        module, body = section.split("\n", 1)
        names = re.findall(r"^   ([A-Za-z_][\w.]*)\s*$", body, flags=re.MULTILINE)
        listed.setdefault(module.strip(), set()).update(names)
    return listed


@pytest.mark.parametrize("module", ["bayescale", "bayescale.passk", "bayescale.emergence"])
def test_every_public_name_is_in_the_api_reference(module: str) -> None:
    namespace = importlib.import_module(module)
    public = {n for n in namespace.__all__ if not inspect.ismodule(getattr(namespace, n))}
    missing = sorted(public - _listed().get(module, set()))
    assert not missing, f"add to docs/api/index.rst under {module}: {missing}"
