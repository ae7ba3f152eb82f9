"""``python -m recurrax.native``: build the oneDNN LSTM/GRU kernels and the native kernels of the other cells now,
and say whether they are available.

Exits 0 either way: without it recurrax runs its XLA kernels (the install step must not fail for an optional
speed-up); the reason is printed.
"""

from . import library_path, load_onednn, onednn_unavailable_reason


def main() -> None:
    if load_onednn() is None:
        print(f"oneDNN and native RNN kernels unavailable, the XLA kernels run instead: {onednn_unavailable_reason()}")
    else:
        print(f"oneDNN and native RNN kernels ready: {library_path()}")


if __name__ == "__main__":
    main()
