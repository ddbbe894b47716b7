"""The dimension and column names used everywhere in bayescale.

Every xarray object, PyMC model and DataTree that bayescale builds uses these names, so
code that reads a fit (forecasts, checks, plots) can rely on them.

Dimensions
----------
``obs``
    One row of training data (a run at one checkpoint, for one metric).
``family``
    A model family (architecture, corpus, recipe) whose parameters may be pooled.
``seed``
    A (family, seed) label of the data.
``config``
    A training configuration (family, N, D, checkpoint step) that was run more than once
    (several seeds): its runs share an offset from the law.
``run``
    A training run (family, seed, model): its intermediate checkpoints share a run-level
    offset from the law.
``replicated_config``
    The configurations with two or more runs.
``point``
    A point at which a forecast is made.
``model``
    A language model whose attempts at problems are counted (pass@k data).
``problem``
    A problem (question) attempted several times by each model.
``k``
    A number of attempts (samples) at inference time.
``chain``, ``draw``
    MCMC sample dimensions (ArviZ conventions).
"""

from __future__ import annotations

OBS = "obs"
FAMILY = "family"
SEED = "seed"
RUN = "run"
CONFIG = "config"
REPLICATED = "replicated_config"
POINT = "point"
MODEL = "model"
PROBLEM = "problem"
K = "k"
SAMPLE_DIMS = ("chain", "draw")

#: Columns of the long data format (see ``docs/data_format.md``).
COL_FAMILY = "family"
COL_SEED = "seed"
COL_MODEL = "model"
COL_PARAMS = "params"
COL_TOKENS = "tokens"
COL_COMPUTE = "compute"
COL_STEP = "checkpoint_step"
COL_METRIC = "metric"
COL_VALUE = "value"
COL_VALUE_LO = "value_lo"
COL_VALUE_HI = "value_hi"

#: Scale variables a law can take as inputs.
SCALE_COLUMNS = (COL_PARAMS, COL_TOKENS, COL_COMPUTE)
REQUIRED_COLUMNS = (COL_FAMILY, COL_PARAMS, COL_TOKENS, COL_METRIC, COL_VALUE)
OPTIONAL_COLUMNS = (COL_SEED, COL_COMPUTE, COL_STEP, COL_VALUE_LO, COL_VALUE_HI)

#: Name of the observed variable in every bayescale model.
OBSERVED = "y"
