"""Batches for truncated backpropagation through time (Williams & Peng 1990) over parallel token streams.

Every document of ``n`` tokens gives ``n - 1`` (input, target) pairs, target = the next token. Its pairs are
cut into windows of ``seq_len``; the last window of a document is padded (``mask`` False) so the next
document starts on a window boundary. The windows of all documents, in order, are dealt into ``batch_size``
streams of consecutive windows (stream ``b`` holds windows ``b * W .. (b + 1) * W - 1``; the tail is padded
with empty windows). Batch ``w`` is window ``w`` of every stream, so the recurrent state that one batch ends
with continues each stream in the next (stateful training, as in char-rnn and Zaremba et al. 2014).

``reset[b]`` flags the rows whose window starts a document, and every row at ``w == 0``: each epoch starts
from a zero state, and state never carries over from one document to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TokenWindows:
    """Training or evaluation windows; ``windows(step)`` is the batch for ``step`` (epoch after epoch).

    Arrays: ``inputs``, ``targets`` (``int32``) and ``mask`` (bool) ``[B, W * T]``, ``starts`` (bool)
    ``[B, W]`` — ``B`` streams, ``W`` windows each, ``T = seq_len``.

    Example:
        >>> import numpy as np
        >>> windows = TokenWindows.from_documents([np.arange(9, dtype=np.int32)], batch_size=2, seq_len=2)
        >>> batch = windows(0)
        >>> batch["inputs"].tolist(), batch["targets"].tolist(), batch["reset"].tolist()
        ([[0, 1], [4, 5]], [[1, 2], [5, 6]], [True, True])
        >>> windows(1)["inputs"].tolist(), windows(1)["reset"].tolist(), windows.num_windows
        ([[2, 3], [6, 7]], [False, False], 2)
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    starts: np.ndarray
    seq_len: int

    @classmethod
    def from_documents(cls, documents: list[np.ndarray], *, batch_size: int, seq_len: int) -> TokenWindows:
        """Windows over ``documents`` (1-D token id arrays); documents shorter than 2 tokens are skipped."""
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be >= 1, got {batch_size} and {seq_len}")
        parts = [_document_windows(np.asarray(doc, np.int32), seq_len) for doc in documents if len(doc) >= 2]
        if not parts:
            raise ValueError("no document has the 2 tokens needed for one (input, target) pair")
        inputs, targets, mask, starts = (np.concatenate(arrays) for arrays in zip(*parts))
        count = len(starts)
        per_stream = -(-count // batch_size)
        pad = per_stream * batch_size - count
        inputs, targets = (np.pad(a, (0, pad * seq_len)) for a in (inputs, targets))
        mask, starts = np.pad(mask, (0, pad * seq_len)), np.pad(starts, (0, pad))
        shape = (batch_size, per_stream * seq_len)
        streams = [inputs.reshape(shape), targets.reshape(shape), mask.reshape(shape)]
        return cls(*streams, starts.reshape(batch_size, per_stream), seq_len)

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[0]

    @property
    def num_windows(self) -> int:
        """Batches per epoch (``W``)."""
        return self.starts.shape[1]

    @property
    def num_targets(self) -> int:
        """Valid (unpadded) targets in one epoch."""
        return int(self.mask.sum())

    def __call__(self, step: int) -> dict[str, np.ndarray]:
        """The batch of ``step``: ``inputs``, ``targets``, ``mask`` ``[B, T]`` and ``reset`` ``[B]``."""
        w = step % self.num_windows
        cols = slice(w * self.seq_len, (w + 1) * self.seq_len)
        return {
            "inputs": self.inputs[:, cols],
            "targets": self.targets[:, cols],
            "mask": self.mask[:, cols],
            "reset": self.starts[:, w] | (w == 0),
        }


def _document_windows(tokens: np.ndarray, seq_len: int) -> tuple[np.ndarray, ...]:
    """A document's pairs padded to whole windows: ``(inputs, targets, mask, starts)``."""
    pairs = len(tokens) - 1
    count = -(-pairs // seq_len)
    pad = count * seq_len - pairs
    inputs, targets = np.pad(tokens[:-1], (0, pad)), np.pad(tokens[1:], (0, pad))
    mask = np.arange(count * seq_len) < pairs
    starts = np.arange(count) == 0
    return inputs, targets, mask, starts
