"""The training progress bar (rich, on stderr): steps, live loss, throughput, elapsed and remaining time."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ProgressBar:
    """``with ProgressBar(total, start, enabled) as bar: bar.advance(step, row)``; does nothing if disabled."""

    def __init__(self, total: int, start: int, enabled: bool = True):
        self.total, self.start, self.enabled = total, start, enabled
        self._progress: Progress | None = None
        self._task: Any = None
        self._status = {"train": "", "valid": ""}

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.total, completed=self.start, status="")
        return self

    def advance(self, step: int, row: dict[str, Any] | None = None) -> None:
        """Show ``step`` done; a train or valid ``row`` updates the loss and throughput shown."""
        if self._progress is None:
            return
        if row is not None:
            self._status["train" if row["split"] == "train" else "valid"] = status_text(row)
        status = " · ".join(text for text in self._status.values() if text)
        self._progress.update(self._task, completed=step, status=status)

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def status_text(row: dict[str, Any]) -> str:
    """``loss 1.2345 · 12,345 tok/s`` for a train row, ``valid loss 1.3456`` for an evaluation row."""
    if row["split"] != "train":
        return f"{row['split']} loss {row['loss']:.4f}"
    rate = row.get("tokens_per_s")
    speed = f"{rate:,.0f} tok/s" if rate is not None else f"{row['steps_per_s']:.2f} steps/s"
    return f"loss {row['loss']:.4f} · {speed}"
