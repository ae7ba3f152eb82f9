"""Forecast data: frames and arrays to series, missing values, scalers and windows against plain loops."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from recurrax.tasks import forecast as fc


def test_from_frame_sorts_groups_and_marks_gaps():
    frame = pd.DataFrame({
        "unique_id": ["b", "a", "a", "a", "b"],
        "ds": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-01-01", "2020-04-01", "2020-02-01"]),
        "y": [5.0, 3.0, 1.0, 4.0, 6.0],
    })  # fmt: skip
    with pytest.raises(ValueError, match="'a' has 1 missing"):
        fc.SeriesSet.from_frame(frame, freq="MS")
    series = fc.SeriesSet.from_frame(frame, freq="MS", missing="interpolate")
    assert series.ids == ["a", "b"]
    np.testing.assert_array_equal(series.values[0], [1.0, 2.0, 3.0, 4.0])  # February filled between 1 and 3
    np.testing.assert_array_equal(series.values[1], [5.0, 6.0])
    assert str(series.ds[0][1])[:10] == "2020-02-01"
    with pytest.raises(ValueError, match="lacks the columns"):
        fc.SeriesSet.from_frame(frame.drop(columns="y"))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,1,1.0,0\na,2,inf,0\n", "series 'a', column 'y': inf at ds 2 is infinite or beyond the float32 range"),
        ("a,1,1.0,0\nb,1,-1e300,0\n", "series 'b', column 'y': -1e\\+300 at ds 1 is infinite or beyond"),
        ("a,1,1.0,0\na,2,1e39,0\n", "series 'a', column 'y': 1e\\+39 at ds 2"),  # float64, not float32
        ("a,1,1.0,0\na,2,2.0,-inf\n", "series 'a', column 'temp': -inf at ds 2"),
        ("", "no rows"),
    ],
    ids=["inf", "1e300", "beyond-float32", "exogenous-inf", "header-only"],
)
def test_read_series_refuses_values_training_cannot_hold_and_empty_files(tmp_path, rows, message):
    """Caught when read (naming the file, series, column and ds), not later as a non-finite training loss."""
    path = tmp_path / "y.csv"
    path.write_text("unique_id,ds,y,temp\n" + rows)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: {message}"):
        fc.read_series(path, exogenous=["temp"])
    path.write_text("unique_id,ds,y,temp\na,1,3.0e38,0\na,2,nan,0\n")  # the float32 limit and NaN pass
    assert fc.read_series(path, exogenous=["temp"], missing="ffill").values[0].tolist() == [3.0e38, 3.0e38]


def test_fill_missing_modes():
    y = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])
    np.testing.assert_array_equal(fc.fill_missing(y, "ffill"), [1.0, 1.0, 1.0, 1.0, 4.0, 4.0])
    np.testing.assert_array_equal(fc.fill_missing(y, "interpolate"), [1.0, 1.0, 2.0, 3.0, 4.0, 4.0])
    with pytest.raises(ValueError, match="4 missing"):
        fc.fill_missing(y, "error")


@pytest.mark.parametrize("method", ["standard", "robust", "meanabs", "last", "none"])
def test_scaler_statistics_and_round_trip(method):
    values = [np.array([1.0, 2.0, 3.0, 10.0]), np.array([-2.0, 2.0, 2.0])]
    scaler = fc.Scaler.fit(values, method)
    for v, loc, scale in zip(values, scaler.loc, scaler.scale):
        expected = {
            "standard": (np.mean(v), np.std(v)),
            "robust": (np.median(v), np.percentile(v, 75) - np.percentile(v, 25)),
            "meanabs": (0.0, np.mean(np.abs(v))),
            "last": (0.0, abs(v[-1])),
            "none": (0.0, 1.0),
        }[method]
        assert (loc, scale) == pytest.approx(expected)
    scaled = scaler.transform(values)
    back = fc.Scaler.from_json(scaler.to_json()).inverse(np.stack([scaled[0][:3], scaled[1]]))
    np.testing.assert_allclose(back, np.stack([values[0][:3], values[1]]))


def test_make_windows_matches_plain_loop():
    y = np.arange(1.0, 11.0)  # 10 values
    windows = fc.make_windows([y, y[:5] * 10], input_size=4, horizon=2, stride=3, min_input=2)
    expected = []  # (series, origin t): inputs y[max(0, t-4):t], targets y[t:t+2]; t = n-2, n-5, ... >= 2
    for index, series in enumerate([y, y[:5] * 10]):
        t = series.size - 2
        while t >= 2:
            expected.append((index, series[max(0, t - 4) : t], series[t : t + 2]))
            t -= 3
    assert len(windows) == len(expected)
    for w, (index, history, target) in enumerate(expected):
        assert windows.series[w] == index and windows.lengths[w] == history.size
        np.testing.assert_array_equal(windows.inputs[w, : history.size], history)
        np.testing.assert_array_equal(windows.inputs[w, history.size :], 0.0)
        np.testing.assert_array_equal(windows.targets[w], target)


def test_split_last_and_short_series():
    series = fc.SeriesSet.from_arrays([np.arange(5.0), np.arange(3.0)], ids=["x", "y"])
    history, holdout = series.split_last(2)
    np.testing.assert_array_equal(history.values[0], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(holdout[1], [1.0, 2.0])
    with pytest.raises(ValueError, match="not longer than the horizon 3"):
        series.split_last(3)
