"""The ``seattle_weather`` registry entry: copied offline from the installed vega_datasets package, checked
by its sha256, and read as the frame pandas reads from the package's own file."""

from __future__ import annotations

import hashlib
import importlib.resources

import pandas as pd
import pytest

import recurrax.data as rd
from recurrax.data._weather import SEATTLE_SHA256


def test_loads_the_package_file_verified(tmp_path):
    source = importlib.resources.files("vega_datasets") / "_data" / "seattle-weather.csv"
    frame = rd.load_seattle_weather(cache_dir=tmp_path)
    cached = tmp_path / "seattle_weather" / "seattle-weather.csv"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == SEATTLE_SHA256
    with source.open("rb") as handle:
        expected = pd.read_csv(handle)
    assert len(frame) == 1461 and list(frame.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(frame.drop(columns="date"), expected.drop(columns="date"))
    assert list(frame["date"].dt.strftime("%Y/%m/%d")) == list(expected["date"])
    info = {i.name: i for i in rd.list_datasets(cache_dir=tmp_path)}["seattle_weather"]
    assert info.kind == "forecast" and "vega_datasets" in info.sources[0]


def test_a_changed_file_is_refused(tmp_path):
    folder = tmp_path / "seattle_weather"
    folder.mkdir()
    (folder / "seattle-weather.csv").write_text("date,temp_max\n2012/01/01,1.0\n")
    with pytest.raises(rd.ChecksumError, match="sha256"):
        rd.load_seattle_weather(data_dir=tmp_path)
