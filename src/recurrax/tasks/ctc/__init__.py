"""CTC sequence labelling: text lines rendered by the ``captcha`` package, read column by column by a
bidirectional recurrent network trained with the CTC loss (Graves et al. 2006), decoded greedily or by prefix
beam search, scored by character and word error rates.

    >>> from recurrax.tasks import ctc
    >>> cfg = ctc.CTCConfig()                                     # doctest: +SKIP
    >>> run = ctc.fit_ctc(cfg, "runs/ctc")                        # doctest: +SKIP
    >>> ctc.evaluate_ctc("runs/ctc", split="test")["cer"]         # doctest: +SKIP
    >>> ctc.predict_ctc("runs/ctc", [grey_image])                 # doctest: +SKIP

Pieces: the model (`CTCRecognizer`) and loss (`ctc_nll`, `ctc_loss`), decoding (`collapse`, `greedy_decode`,
`prefix_beam_search` with optional language-model fusion), data (`ALPHABET`, `encode`, `decode`,
`word_splits`, `Renderer`, `make_split`, `Lines`, `Batches`, `pad_lines`, `image_columns`), configs
(`CTCConfig`, `ModelConfig`, `DataConfig`, `DecodeConfig`), runs (`fit_ctc`, `evaluate_ctc`, `predict_ctc`,
`load_ctc`), the frame scores (`frame_log_probs`) and the
exported inference (`frame_scores`, `ctc_inference`).
"""

from ._config import CTCConfig as CTCConfig
from ._config import DataConfig as DataConfig
from ._config import DecodeConfig as DecodeConfig
from ._config import ModelConfig as ModelConfig
from ._data import ALPHABET as ALPHABET
from ._data import Batches as Batches
from ._data import Lines as Lines
from ._data import Renderer as Renderer
from ._data import decode as decode
from ._data import encode as encode
from ._data import image_columns as image_columns
from ._data import make_split as make_split
from ._data import pad_lines as pad_lines
from ._data import word_splits as word_splits
from ._decode import collapse as collapse
from ._decode import greedy_decode as greedy_decode
from ._decode import prefix_beam_search as prefix_beam_search
from ._inference import ctc_inference as ctc_inference
from ._model import CTCRecognizer as CTCRecognizer
from ._model import ctc_loss as ctc_loss
from ._model import ctc_nll as ctc_nll
from ._run import CTCRun as CTCRun
from ._run import LoadedCTC as LoadedCTC
from ._run import build_model as build_model
from ._run import evaluate_ctc as evaluate_ctc
from ._run import evaluate_lines as evaluate_lines
from ._run import fit_ctc as fit_ctc
from ._run import frame_log_probs as frame_log_probs
from ._run import frame_scores as frame_scores
from ._run import load_ctc as load_ctc
from ._run import predict_ctc as predict_ctc
from ._run import train_ctc as train_ctc
