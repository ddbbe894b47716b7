"""Scaling laws of training runs: data, laws, priors, the hierarchical model, fits,
forecasts, compute-optimal allocations, checkpoints, reference posteriors and back-tests.

The public names are re-exported by :mod:`bayescale` itself (``bayescale.fit``,
``bayescale.ScalingFit``...).
"""
