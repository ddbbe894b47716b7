"""The kernel shared by every wing of bayescale, with no scaling-law words in it.

Dimension names (:mod:`~bayescale.core.dims`), errors (:mod:`~bayescale.core.errors`),
convergence diagnostics (:mod:`~bayescale.core.diagnostics`), the sampling engine
(:mod:`~bayescale.core.sampling`, :mod:`~bayescale.core.compiled`,
:mod:`~bayescale.core.callbacks`).
"""
