"""`write_backtest_plot`: one panel per metric, one line per method whose points are the rows' scores against
their origins; the PNG is written and reads back at the figure's size."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from recurrax.tasks import forecast as fc

METRICS = ["mae", "rmse", "smape", "mase"]


def _rows(seed: int) -> list[dict]:
    """`backtest` rows of the naive forecaster on random walks, three origins 2 steps apart."""
    values = list(np.cumsum(np.random.default_rng(seed).normal(size=(3, 20)), axis=1))
    return fc.backtest(lambda h: fc.forecast_baseline("naive", h, 3), values, 3, origins=3, step=2)


def test_panels_hold_each_methods_scores_per_origin(tmp_path):
    methods = {"naive": _rows(0), "table": fc.backtest_table(_rows(1))}  # a table's "all" row is left out
    path = tmp_path / "backtest.png"
    figure = fc.write_backtest_plot(path, methods)
    assert [axes.get_title() for axes in figure.axes] == METRICS
    for axes, metric in zip(figure.axes, METRICS):
        lines = axes.get_lines()
        assert [line.get_label() for line in lines] == ["naive", "table"]
        for line, rows in zip(lines, (_rows(0), _rows(1))):
            np.testing.assert_array_equal(line.get_xdata(), [7, 5, 3])
            np.testing.assert_array_equal(line.get_ydata(), [row[metric] for row in rows])
        assert axes.xaxis_inverted()  # the latest origin on the right
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = figure.get_size_inches() * figure.dpi
    assert matplotlib.image.imread(path).shape[:2] == (round(height), round(width))


def test_rows_of_one_method_in_any_order(tmp_path):
    rows = _rows(2)
    figure = fc.write_backtest_plot(tmp_path / "one.png", rows[::-1], metrics=["smape"])
    [axes] = figure.axes
    [line] = axes.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [7, 5, 3])  # sorted oldest first
    np.testing.assert_array_equal(line.get_ydata(), [row["smape"] for row in rows])
    assert axes.get_legend() is None  # nothing to name


@pytest.mark.parametrize(
    "results, message",
    [({}, "no backtest results"), ([], "at least one row"), ([{"origin": 4, "mae": 1.0}], "lack the metrics")],
)
def test_bad_results_are_refused(results, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        fc.write_backtest_plot(tmp_path / "bad.png", results)
    assert not (tmp_path / "bad.png").exists()
