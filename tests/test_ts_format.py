"""The ``.ts`` parser on hand-written files, padding, and the registered UEA/UCR sets' paths inside the wheel
(read from a fake wheel: tests never download)."""

from __future__ import annotations

import math
import zipfile

import numpy as np
import pytest

import recurrax.data as rd
from recurrax.data._ts import AEON_WHEEL

MULTIVARIATE = """# a comment
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1.0,2.0,3.0:4.0,5.0,6.0:up
7.5,?:-8,9e1:down

0.5:0.25:up
"""


def test_parse_multivariate_variable_length_with_missing_values():
    data = rd.parse_ts(MULTIVARIATE)
    assert data.name == "Toy" and data.classes == ("up", "down") and data.labels == ("up", "down", "up")
    assert data.num_dimensions == 2
    np.testing.assert_array_equal(data.series[0], [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
    assert data.series[1][0].tolist() == [7.5, -8.0]
    assert math.isnan(data.series[1][1, 0]) and data.series[1][1, 1] == 90.0
    np.testing.assert_array_equal(data.series[2], [[0.5, 0.25]])
    assert data.header["missing"] == "true"


def test_parse_univariate_without_labels():
    data = rd.parse_ts("@problemName u\n@univariate true\n@equalLength true\n@classLabel false\n@data\n1,2\n3,4\n")
    assert data.labels == (None, None) and data.classes == ()
    np.testing.assert_array_equal(np.stack(data.series), [[[1.0], [2.0]], [[3.0], [4.0]]])


@pytest.mark.parametrize(
    "text, message",
    [
        ("@problemName x\n1,2\n", "header line before @data"),
        ("@problemName x\n@classLabel true a\n", "no @data"),
        ("@classLabel true a b\n@data\n1,2:c\n", "not one of"),
        ("@dimensions 2\n@classLabel true a\n@data\n1,2:a\n", "expected 2 dimension"),
        ("@dimensions 2\n@classLabel false\n@data\n1,2:3\n", "different lengths"),
        ("@classLabel false\n@data\n1,x\n", "line 3"),
        ("@equalLength true\n@classLabel false\n@data\n1,2\n3\n", "@equalLength true"),
        ("@timeStamps true\n@data\n(0,1)\n", "not supported"),
        ("@classLabel true\n@data\n1:a\n", "must list"),
    ],
)
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        rd.parse_ts(text)


def test_pad_series_zero_pads_at_the_end():
    xs, lengths = rd.pad_series([np.ones((2, 3)), np.full((4, 3), 2.0)], length=5)
    assert xs.shape == (2, 5, 3) and xs.dtype == np.float32 and lengths.tolist() == [2, 4]
    assert xs[0, :2].tolist() == [[1.0] * 3] * 2 and not xs[0, 2:].any() and not xs[1, 4:].any()


@pytest.mark.parametrize(
    "name, problem",
    [("japanesevowels", "JapaneseVowels"), ("basicmotions", "BasicMotions"), ("gunpoint", "GunPoint"),
     ("italypowerdemand", "ItalyPowerDemand")],
)  # fmt: skip
def test_registered_sets_read_their_files_from_the_wheel(tmp_path, name, problem):
    spec = rd.dataset_spec(name)
    assert spec.kind == "classification" and spec.splits == ("train", "test")
    assert [f.name for f in spec.files] == [AEON_WHEEL]
    with zipfile.ZipFile(tmp_path / AEON_WHEEL, "w") as archive:
        for split in ("TRAIN", "TEST"):
            archive.writestr(f"aeon/datasets/data/{problem}/{problem}_{split}.ts", MULTIVARIATE.replace("Toy", split))
    (text,) = spec.read(tmp_path, "test")
    assert rd.parse_ts(text).name == "TEST"


def test_read_ts_file(tmp_path):
    (tmp_path / "toy.ts").write_text(MULTIVARIATE)
    assert rd.read_ts_file(tmp_path / "toy.ts").labels == ("up", "down", "up")
