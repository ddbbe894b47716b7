"""The ``bayescale`` command line: :mod:`~bayescale.cli.main` (scaling laws, summaries,
forecasts, the demo), :mod:`~bayescale.cli.passk` and :mod:`~bayescale.cli.emergence`."""

from bayescale.cli.main import main

__all__ = ["main"]
