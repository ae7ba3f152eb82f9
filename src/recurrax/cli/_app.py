"""The root `typer` app, its command groups, and the one-line error handling of `main`."""

from __future__ import annotations

import os
import sys

import typer

from . import (
    _anomaly,
    _bench,
    _benchmark,
    _classify,
    _ctc,
    _data,
    _export,
    _forecast,
    _info,
    _lm,
    _registry,
    _retrain,
    _rl,
    _seq2seq,
    _serve,
    _study,
    _tune,
)

app = typer.Typer(
    name="recurrax",
    help="LSTM-family recurrent networks on JAX: train, evaluate and predict (lm, forecast, anomaly, classify, "
    "seq2seq); export, serve, register, retrain and tune models; manage datasets.\n\n"
    "Example: recurrax lm fit --config configs/lm_quickstart.toml --out runs/quickstart",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    distributed: bool = typer.Option(
        False, "--distributed", help="Join a multi-host run first (jax.distributed; coordinator and process from "
        "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID): docs/distributed.md."),
) -> None:  # fmt: skip
    if distributed:
        from ..train import initialize_distributed

        initialize_distributed()


app.add_typer(_lm.app, name="lm")
app.add_typer(_classify.app, name="classify")
app.add_typer(_seq2seq.app, name="seq2seq")
app.add_typer(_rl.app, name="rl")
app.add_typer(_ctc.app, name="ctc")
app.add_typer(_forecast.app, name="forecast")
app.add_typer(_anomaly.app, name="anomaly")
app.add_typer(_data.app, name="data")
app.command("info")(_info.info)
app.command("tune")(_tune.tune)
app.command("serve")(_serve.serve)
app.command("export")(_export.export)
app.add_typer(_registry.app, name="registry")
app.command("retrain")(_retrain.retrain)
app.command("bench")(_bench.bench)
app.add_typer(_benchmark.app, name="benchmark")
app.add_typer(_study.app, name="study")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; known errors become one line on stderr and exit code 1 (2 for usage)."""
    try:
        result = app(args=argv, standalone_mode=False)
    except typer.Abort:
        print("recurrax: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as error:  # usage errors: unknown option, bad parameter value
        if os.environ.get("RECURRAX_DEBUG") == "1":
            raise
        print(f"recurrax: {error.format_message()}", file=sys.stderr)
        return error.exit_code
    except Exception as error:
        if os.environ.get("RECURRAX_DEBUG") == "1":
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"recurrax: error: {message} (RECURRAX_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """The console-script entry point: `main` with its exit code."""
    sys.exit(main())
