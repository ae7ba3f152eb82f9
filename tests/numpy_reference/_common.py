"""NumPy helpers for the references."""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def f64(array):
    """A parameter as a float64 NumPy array (None stays None)."""
    return None if array is None else np.asarray(array, np.float64)
