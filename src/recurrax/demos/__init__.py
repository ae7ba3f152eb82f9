"""Runnable experiments (`python -m recurrax.demos.<name>`)."""
