"""Language modelling: character- and word-level recurrent language models.

    >>> from recurrax.tasks import lm
    >>> cfg = lm.LMConfig()                                     # doctest: +SKIP
    >>> run = lm.fit_lm(cfg, "runs/shakespeare", data_dir="../shared/data")  # doctest: +SKIP
    >>> lm.evaluate_lm("runs/shakespeare", split="valid")       # doctest: +SKIP
    >>> print(lm.sample_lm("runs/shakespeare", prime="ROMEO:", length=200, temperature=0.8))  # doctest: +SKIP

Pieces: tokenizers (`CharTokenizer`, `WordTokenizer`), truncated-BPTT batches (`TokenWindows`), the model
(`LanguageModel`), the loss and metrics (`lm_loss`, `evaluate_windows`, `lm_metrics`, `bzip2_bpc`),
sampling in one `lax.scan` (`sample`), configs (`LMConfig`, `ModelConfig`, `DataConfig`) and runs
(`fit_lm`, `evaluate_lm`, `sample_lm`, `load_lm`); `evaluate_protocol` for benchmark protocols.
"""

from ...data import CharTokenizer as CharTokenizer  # moved to recurrax.data, re-exported
from ...data import Tokenizer as Tokenizer
from ...data import WordTokenizer as WordTokenizer
from ...data import tokenizer_from_json as tokenizer_from_json
from ._batching import TokenWindows as TokenWindows
from ._config import DataConfig as DataConfig
from ._config import LMConfig as LMConfig
from ._config import ModelConfig as ModelConfig
from ._corpus import Corpus as Corpus
from ._corpus import load_corpus as load_corpus
from ._corpus import make_tokenizer as make_tokenizer
from ._inference import lm_inference as lm_inference
from ._metrics import bzip2_bpc as bzip2_bpc
from ._metrics import evaluate_windows as evaluate_windows
from ._metrics import lm_loss as lm_loss
from ._metrics import lm_metrics as lm_metrics
from ._metrics import token_nll as token_nll
from ._model import LanguageModel as LanguageModel
from ._model import reset_state as reset_state
from ._protocol import evaluate_protocol as evaluate_protocol
from ._run import LMRun as LMRun
from ._run import LoadedLM as LoadedLM
from ._run import build_model as build_model
from ._run import evaluate_lm as evaluate_lm
from ._run import evaluate_split as evaluate_split
from ._run import fit_lm as fit_lm
from ._run import generate as generate
from ._run import load_lm as load_lm
from ._run import sample_lm as sample_lm
from ._sampling import filter_logits as filter_logits
from ._sampling import next_token as next_token
from ._sampling import sample as sample
