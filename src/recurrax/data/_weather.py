"""Seattle's daily weather, 2012-2015 (1461 days), as shipped in the ``vega_datasets`` package, registered
at import as ``seattle_weather``.

One row per day: ``date``, ``precipitation`` (mm), ``temp_max`` and ``temp_min`` (degrees C), ``wind``
(m/s) and ``weather`` (drizzle, rain, sun, snow, fog). The file is copied from the installed package
(``vega_datasets/_data/seattle-weather.csv``: offline) and checked against its sha256.

    >>> import recurrax.data as rd
    >>> frame = rd.load_seattle_weather()  # doctest: +SKIP
    >>> frame["temp_max"].describe()        # doctest: +SKIP
"""

from __future__ import annotations

import importlib.resources
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._registry import DataFile, DatasetSpec, get, register_dataset
from ._sources import SourceUnavailable

SEATTLE_FILE = "seattle-weather.csv"
SEATTLE_SHA256 = "62f0609f787158128aa2bd102967173a4953122dd4f872bf1d502cae1037df0b"  # vega_datasets 0.9.0


@dataclass(frozen=True)
class InstalledPackageSource:
    """A data file inside an installed Python package (``package``/``path``): read locally, no network."""

    package: str
    path: str

    def describe(self) -> str:
        return f"the installed package {self.package} ({self.path}; pip install {self.package})"

    def fetch(self, dest: Path) -> None:
        """Copy the package's file to ``dest``."""
        try:
            with (importlib.resources.files(self.package) / self.path).open("rb") as source, open(dest, "wb") as out:
                shutil.copyfileobj(source, out)
        except (ModuleNotFoundError, OSError) as error:
            raise SourceUnavailable(f"{self.describe()}: {error}") from error


def _read_documents(folder: Path, split: str | None) -> list[str]:
    return [(folder / SEATTLE_FILE).read_text(encoding="utf-8")]


def load_seattle_weather(
    *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None, download: bool = True
) -> Any:
    """The 1461 days as a pandas DataFrame with ``date`` parsed (datetime64) and the columns above."""
    import pandas as pd

    folder = get("seattle_weather", data_dir=data_dir, cache_dir=cache_dir, download=download)
    return pd.read_csv(folder / SEATTLE_FILE, parse_dates=["date"], date_format="%Y/%m/%d")


register_dataset(
    DatasetSpec(
        name="seattle_weather",
        description="Seattle daily weather 2012-2015 (1461 days: precipitation, temp_max, temp_min, wind, weather)",
        files=(
            DataFile(SEATTLE_FILE, SEATTLE_SHA256, (InstalledPackageSource("vega_datasets", "_data/" + SEATTLE_FILE),)),
        ),
        read=_read_documents,
        license="MIT (vega_datasets); NOAA data",
        kind="forecast",
    )
)
