"""``metrics.jsonl``: one JSON object per logged step or evaluation, optionally mirrored to TensorBoard.

Rows are ``{"step", "split", ...numbers}``. Non-finite numbers are written as ``NaN`` / ``Infinity``, which
Python's `json` (and pandas) read back. On resume, rows after the checkpoint's step are dropped first, so the
file ends up equal to that of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._files import write_atomic

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file; a torn last line (a run killed while writing it) is left out."""
    lines = Path(path).read_text().splitlines() if Path(path).exists() else []
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number != len(lines):
                raise ValueError(f"{path}:{number}: not a JSON object: {line[:80]!r}") from None
    return rows


class MetricsLog:
    """Appends rows to ``run_dir/metrics.jsonl`` (flushed at once) and, with ``tensorboard``, to TensorBoard
    event files under ``run_dir/tensorboard`` (tag ``<split>/<key>``).

    ``keep_until_step``: None starts a new file; a step keeps only the existing rows up to that step (resume).
    """

    def __init__(self, run_dir: Path, *, keep_until_step: int | None = None, tensorboard: bool = False):
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = None
        if tensorboard:
            purge = None if keep_until_step is None else keep_until_step + 1
            self._writer = summary_writer(self.path.parent / TENSORBOARD_DIR, purge_step=purge)
        kept = [] if keep_until_step is None else read_metrics(self.path)
        self.rows = [row for row in kept if row["step"] <= keep_until_step]
        write_atomic(self.path, "".join(json.dumps(row) + "\n" for row in self.rows))
        self._file = open(self.path, "a")

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (``step`` and ``split`` first)."""
        self.rows.append(row)
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in row.items():
                if key not in ("step", "split") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(f"{row['split']}/{key}", value, row["step"])

    def sync(self) -> None:
        """Make the rows written so far durable (called before each checkpoint)."""
        os.fsync(self._file.fileno())
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def summary_writer(logdir: Path, purge_step: int | None = None) -> Any:
    """A TensorBoard ``SummaryWriter`` from tensorboardX, else from torch (with tensorboard installed)."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError(
                "train.tensorboard = true needs tensorboardX (pip install tensorboardX) or torch with "
                "tensorboard (pip install tensorboard); install one or set train.tensorboard = false"
            ) from None
    return SummaryWriter(str(logdir), purge_step=purge_step)
