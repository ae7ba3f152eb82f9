"""``recurrax seq2seq fit|evaluate|translate``: encoder-decoder translators with attention (English -> French
number words, or Tatoeba's English -> French sentence pairs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._options import ConfigFile, DataDir, Out, Overrides, Progress, Resume, RunPath, Seed, fit_arguments

app = typer.Typer(help="Train, evaluate and apply sequence-to-sequence translators.", no_args_is_help=True)

Beam = Annotated[int, typer.Option(help="Beam width (1: greedy decoding).", min=1)]


@app.command()
def fit(
    config: ConfigFile = None,
    overrides: Overrides = None,
    seed: Seed = None,
    out: Out = None,
    data_dir: DataDir = None,
    resume: Resume = False,
    progress: Progress = True,
) -> None:
    """Train a translator; writes config.toml, metrics.jsonl, checkpoints/, attention.png, report.md.

    Test metrics: exact_match (greedy), beam_exact_match (beam data.beam), long_exact_match (inputs of at
    least data.long_from tokens); bleu and beam_bleu for a dataset.

    Examples:

      recurrax seq2seq fit --set data.max_number=100000 --set model.attention=additive --out runs/numbers

      recurrax seq2seq fit --set model.attention=none --seed 1 --out runs/numbers-plain

      recurrax seq2seq fit --set data.dataset=tatoeba_fra_eng --set data.train_size=10000 --out runs/tatoeba
    """
    from ..tasks import seq2seq

    cfg, run_dir = fit_arguments(seq2seq.Seq2SeqConfig, "seq2seq", config, overrides, seed, out, resume)
    run = seq2seq.fit_seq2seq(cfg, run_dir, data_dir=data_dir, resume=resume, progress=progress)
    typer.echo("test: " + ", ".join(f"{k} {v:.4f}" for k, v in run.metrics.items()))
    typer.echo(f"wrote {run_dir}/report.md, attention.png, metrics.jsonl, checkpoints/")


@app.command()
def evaluate(
    run: RunPath,
    split: Annotated[str, typer.Option(help="train, valid or test.")] = "test",
    beam: Beam = 1,
    data_dir: DataDir = None,
) -> None:
    """Teacher-forced loss, exact match (and BLEU for a dataset) of a trained translator on a split, as JSON.

    The split is drawn again from the run's config and seed, so it holds the pairs the run used.

    Example: recurrax seq2seq evaluate runs/numbers --split test --beam 4
    """
    from ..tasks import seq2seq

    typer.echo(json.dumps(seq2seq.evaluate_seq2seq(run, split, beam=beam, data_dir=data_dir)))


@app.command()
def translate(
    run: RunPath,
    text: Annotated[list[str] | None, typer.Argument(help="English sentences (or number words).")] = None,
    input_: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="A text file, one sentence per line.", exists=True, dir_okay=False),
    ] = None,
    beam: Beam = 1,
    plot: Annotated[
        Path | None, typer.Option(help="Write the attention weights of the first sentence to this PNG.")
    ] = None,
) -> None:
    """Translate English to French with a trained run: one line out per sentence in.

    Examples:

      recurrax seq2seq translate runs/numbers "two hundred forty-one" "ninety-seven"

      recurrax seq2seq translate runs/numbers --input numbers.txt --beam 4 --plot attention.png
    """
    from ..tasks import seq2seq

    sentences = [*(text or []), *([] if input_ is None else input_.read_text().splitlines())]
    if not sentences:
        raise typer.BadParameter("give sentences to translate, as arguments or with --input")
    empty = [i for i, sentence in enumerate(sentences, start=1) if not sentence.strip()]
    if empty:
        raise ValueError(f"sentence {empty[0]} is empty; give one sentence per argument or line")
    translations = seq2seq.translate(run, sentences, beam=beam)
    if plot is not None:
        _plot(run, sentences[0], plot)
    for line in translations:
        typer.echo(line)
    if plot is not None:
        typer.echo(f"wrote {plot}")


def _plot(run: Path, sentence: str, path: Path) -> None:
    """The attention weights of the greedy translation of ``sentence``, as a PNG."""
    from ..config import from_dict
    from ..tasks import seq2seq
    from ..tasks.seq2seq._corpus import source_tokens

    model, source, target, meta = seq2seq.load_seq2seq(run)
    cfg = from_dict(seq2seq.Seq2SeqConfig, meta["config"])
    if cfg.model.attention == "none":
        raise ValueError("the run was trained without attention (model.attention = 'none'): no weights to plot")
    tokens = source_tokens(cfg.data.dataset, sentence)
    src_len, tgt_len = meta["lengths"]
    lengths, batch = (max(src_len, len(tokens)), tgt_len), cfg.data.eval_batch_size  # as `translate` pads
    seq2seq.plot_attention(model, source, target, tokens, path, lengths, batch)
