"""The result contract: every kind saves, loads back as its class, and bad files are clear."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale as bs
from bayescale.core.errors import FitFileError
from bayescale.core.results import FIT_KINDS, FORMAT_VERSION, KIND_ATTR, FitResult
from tests.helpers import fit_mocked, simulate_runs


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[bs.ScalingFit, object]:
    fit = fit_mocked(simulate_runs(), draws=50, chains=2)
    path = tmp_path_factory.mktemp("fits") / "scaling.nc"
    fit.save(path)
    return fit, path


def test_every_kind_is_a_fit_result_with_its_name() -> None:
    for kind, where in FIT_KINDS.items():
        module, _, name = where.partition(":")
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, FitResult), where
        assert cls.kind == kind


def test_a_fit_kind_that_drifts_from_the_contract_cannot_be_made() -> None:
    class Incomplete(FitResult):
        kind = "incomplete_test_kind"

    with pytest.raises(TypeError, match="summary"):
        Incomplete()  # type: ignore[abstract]


def test_scaling_fit_round_trips_through_bayescale_load(saved) -> None:
    fit, path = saved
    back = bs.load(path)
    assert type(back) is bs.ScalingFit
    pd.testing.assert_frame_equal(back.summary(ci_prob=0.9), fit.summary(ci_prob=0.9))
    points = {"params": [1e9, 3e9], "tokens": [2e10, 6e10]}
    pd.testing.assert_frame_equal(
        back.forecast(points, ci_prob=0.9, family="fam_a"),
        fit.forecast(points, ci_prob=0.9, family="fam_a"),
    )
    assert back.notes == fit.notes
    assert isinstance(back.summary(ci_prob=0.9), pd.DataFrame)
    assert str(back) == back.report()
    assert "<table" in back._repr_html_()


def test_a_loaded_fit_can_be_saved_over_its_own_file(saved, tmp_path) -> None:
    """load() reads the file into memory and closes it (an open handle made the second
    write fail: 'unable to truncate a file which is already open')."""
    fit, _ = saved
    path = fit.save(tmp_path / "again.nc")
    back = bs.load(path)
    back.notes = [*back.notes, "saved again"]
    back.save(path)
    assert bs.load(path).notes[-1] == "saved again"


def test_saved_file_names_its_kind_and_format(saved) -> None:
    _, path = saved
    tree = xr.open_datatree(path, engine="h5netcdf")
    assert tree.attrs[KIND_ATTR] == "scaling"
    assert int(tree.attrs["bayescale_format"]) == FORMAT_VERSION
    assert "spec" in json.loads(tree.attrs["bayescale_state"])


def test_a_text_file_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "notes.nc"
    path.write_text("family,params\na,1\n")
    with pytest.raises(FitFileError, match="a text file \\(starting 'family,params'\\)"):
        bs.load(path)


def test_a_truncated_file_is_a_clear_error(saved, tmp_path) -> None:
    _, path = saved
    cut = tmp_path / "cut.nc"
    cut.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(FitFileError, match="truncated or damaged"):
        bs.load(cut)


def test_a_netcdf_file_of_another_program_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "other.nc"
    xr.Dataset({"temperature": ("time", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(FitFileError, match=r"variables: temperature.*another program"):
        bs.load(path)


def test_an_unknown_kind_or_newer_format_is_a_clear_error(saved, tmp_path) -> None:
    _, path = saved
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    for attrs, message in (
        ({KIND_ATTR: "telepathy"}, "kind 'telepathy'.*known kinds"),
        ({"bayescale_format": FORMAT_VERSION + 1}, "newer than this bayescale"),
    ):
        other = tree.copy()
        other.attrs.update(attrs)
        out = tmp_path / f"{message[:5]}.nc"
        other.to_netcdf(out, engine="h5netcdf")
        with pytest.raises(FitFileError, match=message):
            bs.load(out)


def test_a_missing_file_or_a_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FitFileError, match="no fit file"):
        bs.load(tmp_path / "missing.nc")
    with pytest.raises(FitFileError, match="directory"):
        bs.load(tmp_path)
