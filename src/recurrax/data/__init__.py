"""Datasets: a registry of named real datasets (verified downloads, a cache, local data directories) and
synthetic benchmarks; the data tools that tasks share: long frames on disk (`read_frame`, `write_frame`,
`future_stamps`), series windows (`make_windows`, `Windows`, `left_aligned`, `last_inputs`, `last_values`),
scalers (`Scaler`, `window_stats`, `scale_rows`) and tokenizers (`CharTokenizer`, `WordTokenizer`).

    >>> import recurrax.data as rd
    >>> [info.name for info in rd.list_datasets() if info.kind == "text"]
    ['kjv', 'ptb', 'shakespeare', 'tinyshakespeare', 'wikitext2']
    >>> text = rd.load_text("tinyshakespeare", data_dir="../shared/data")  # doctest: +SKIP

See `recurrax.data._registry` for the resolution order (``data_dir``, ``$RECURRAX_DATA``, the cache, the
download sources).
"""

from . import _nab as _nab  # registers the NAB anomaly corpus
from . import _text as _text  # registers the text datasets
from . import _translation as _translation  # registers the sentence-pair (translation) datasets
from . import _ts as _ts  # registers the .ts classification datasets
from . import _ucr_anomaly as _ucr_anomaly  # registers UCR anomaly series #135
from . import _weather as _weather  # registers the Seattle weather series (vega_datasets)
from ._frames import future_stamps as future_stamps
from ._frames import read_frame as read_frame
from ._frames import write_frame as write_frame
from ._nab import NabSeries as NabSeries
from ._nab import load_nab as load_nab
from ._nab import probation_period as probation_period
from ._nab import read_nab_series as read_nab_series
from ._registry import DATASETS as DATASETS
from ._registry import DataFile as DataFile
from ._registry import DatasetInfo as DatasetInfo
from ._registry import DatasetSpec as DatasetSpec
from ._registry import cache_root as cache_root
from ._registry import dataset_spec as dataset_spec
from ._registry import get as get
from ._registry import list_datasets as list_datasets
from ._registry import load_documents as load_documents
from ._registry import load_text as load_text
from ._registry import register_dataset as register_dataset
from ._scalers import Scaler as Scaler
from ._scalers import ScalerName as ScalerName
from ._scalers import scale_rows as scale_rows
from ._scalers import window_stats as window_stats
from ._sources import ChecksumError as ChecksumError
from ._sources import DatasetError as DatasetError
from ._sources import UrlSource as UrlSource
from ._sources import WheelSource as WheelSource
from ._sources import digest_of as digest_of
from ._sources import sha256_of as sha256_of
from ._synthetic import adding_problem as adding_problem
from ._tokenizers import CharTokenizer as CharTokenizer
from ._tokenizers import Tokenizer as Tokenizer
from ._tokenizers import WordTokenizer as WordTokenizer
from ._tokenizers import tokenizer_from_json as tokenizer_from_json
from ._translation import load_pairs as load_pairs
from ._translation import parse_pairs as parse_pairs
from ._translation import word_tokens as word_tokens
from ._ts import TSData as TSData
from ._ts import load_ts as load_ts
from ._ts import pad_series as pad_series
from ._ts import parse_ts as parse_ts
from ._ts import read_ts_file as read_ts_file
from ._ucr_anomaly import UCRAnomalySeries as UCRAnomalySeries
from ._ucr_anomaly import load_ucr_anomaly as load_ucr_anomaly
from ._ucr_anomaly import parse_ucr_anomaly as parse_ucr_anomaly
from ._weather import load_seattle_weather as load_seattle_weather
from ._windows import Windows as Windows
from ._windows import check_covariates as check_covariates
from ._windows import last_inputs as last_inputs
from ._windows import last_values as last_values
from ._windows import left_aligned as left_aligned
from ._windows import make_windows as make_windows
