"""The ``longboat`` command line."""

from longboat.cli._app import cli, main

__all__ = ["cli", "main"]
