"""Sequence to sequence: encoder-decoder LSTMs with attention, on English -> French number words or on
Tatoeba's English -> French sentence pairs (``data.dataset = "tatoeba_fra_eng"``, scored by BLEU).

    >>> from recurrax.tasks import seq2seq
    >>> run = seq2seq.fit_seq2seq(seq2seq.Seq2SeqConfig(), "runs/numbers")  # doctest: +SKIP
    >>> seq2seq.translate("runs/numbers", ["ninety-seven"])                 # doctest: +SKIP
    ['quatre-vingt-dix-sept']

Pieces: the model (`Seq2Seq`: bidirectional encoder, additive / general / no attention, teacher forcing),
decoding (`greedy_decode`, `beam_search`, `sequence_log_prob`, `token_log_probs`), the numbers task
(`english`, `french`, `tokenize`, `Vocab`, `split_numbers`, `encode_pairs`), the pairs of a run
(`load_splits`, `encode_token_pairs`), the loss (`seq2seq_loss`), `corpus_bleu`, `write_attention_png`,
configs (`Seq2SeqConfig`, `ModelConfig`, `DataConfig`), runs (`fit_seq2seq`, `load_seq2seq`, `translate`) and
the export (`seq2seq_inference`: greedy decoding as the function ``translate``).
"""

from ._config import DataConfig as DataConfig
from ._config import ModelConfig as ModelConfig
from ._config import Seq2SeqConfig as Seq2SeqConfig
from ._corpus import load_splits as load_splits
from ._decode import beam_search as beam_search
from ._decode import greedy_decode as greedy_decode
from ._decode import sequence_log_prob as sequence_log_prob
from ._decode import token_log_probs as token_log_probs
from ._inference import seq2seq_inference as seq2seq_inference
from ._model import BOS as BOS
from ._model import EOS as EOS
from ._model import PAD as PAD
from ._model import Seq2Seq as Seq2Seq
from ._numbers import Vocab as Vocab
from ._numbers import detokenize as detokenize
from ._numbers import encode_pairs as encode_pairs
from ._numbers import encode_token_pairs as encode_token_pairs
from ._numbers import english as english
from ._numbers import french as french
from ._numbers import number_pair as number_pair
from ._numbers import split_numbers as split_numbers
from ._numbers import tokenize as tokenize
from ._plot import write_attention_png as write_attention_png
from ._run import Seq2SeqRun as Seq2SeqRun
from ._run import build_model as build_model
from ._run import corpus_bleu as corpus_bleu
from ._run import decode_all as decode_all
from ._run import evaluate_seq2seq as evaluate_seq2seq
from ._run import exact_match as exact_match
from ._run import fit_seq2seq as fit_seq2seq
from ._run import load_seq2seq as load_seq2seq
from ._run import plot_attention as plot_attention
from ._run import score_pairs as score_pairs
from ._run import seq2seq_loss as seq2seq_loss
from ._run import translate as translate
