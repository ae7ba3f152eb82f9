"""Datasets: synthetic benchmarks (and, later, the registry of real ones)."""

from ._synthetic import adding_problem as adding_problem
