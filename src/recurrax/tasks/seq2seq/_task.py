"""The sequence-to-sequence task's `TaskSpec` (`recurrax.tasks.get_task("seq2seq")`): trained, tuned, exported
(``translate``: greedy decoding; beam search stays in the library) and served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._contract import TaskSpec
from ._config import Seq2SeqConfig
from ._inference import seq2seq_inference
from ._run import fit_seq2seq


def _fit(cfg: Seq2SeqConfig, run_dir: Path, data_dir: Path | None, progress: bool) -> list[dict[str, Any]]:
    return fit_seq2seq(cfg, run_dir, data_dir=data_dir, progress=progress).fit.history


TASK = TaskSpec(
    name="seq2seq",
    config_type=Seq2SeqConfig,
    fit=_fit,
    inference=seq2seq_inference,
    serving="recurrax.tasks.seq2seq._serving",
)
