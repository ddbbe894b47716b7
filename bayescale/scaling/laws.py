r"""Scaling laws as small declarative objects.

Every law is fitted in a *reference* parameterisation: each scale variable ``x`` enters as
:math:`u = \log x - \log x_\mathrm{ref}`, where :math:`x_\mathrm{ref}` is the geometric
mean of ``x`` in the training data, and each power-law term is parameterised by its value
at the reference scale. For a term :math:`A x^{-\alpha}`

.. math::

    A x^{-\alpha} = A_\mathrm{ref}\, e^{-\alpha u}, \qquad
    A_\mathrm{ref} = A\, x_\mathrm{ref}^{-\alpha}.

With the conventional :math:`\log A` the posterior of :math:`(\log A, \alpha)` is a thin
ridge (a change in :math:`\alpha` must be offset by :math:`\alpha \log x_\mathrm{ref}` in
:math:`\log A`, about 20 times larger), and NUTS needs long trajectories;
:math:`(\log A_\mathrm{ref}, \alpha)` are nearly uncorrelated. The conventional
parameters (``E``, ``A``, ``alpha``, ``B``, ``beta`` ...) are reported as well.

A law's equation is written once, as the list of the logarithms of its additive terms,
against a small namespace of operations (:data:`NUMPY_OPS` or :data:`PYTENSOR_OPS`), so the
PyMC model and the NumPy forecasts evaluate the same expression:

.. math:: \log L = \operatorname{logsumexp}_k\, \log T_k.

Adding a law means adding one :class:`Law` object to :data:`LAWS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from bayescale.core import dims
from bayescale.core.errors import SpecificationError

__all__ = [
    "BUILTIN_LAWS",
    "LAWS",
    "NUMPY_OPS",
    "Law",
    "Ops",
    "Parameter",
    "broken_power_law",
    "chinchilla",
    "chinchilla_tied",
    "get_law",
    "power_law",
    "register_law",
]


@dataclass(frozen=True)
class Ops:
    """The operations a law's equation may use, for one numerical backend."""

    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    softplus: Callable[[Any], Any]
    logsumexp: Callable[[Sequence[Any]], Any]


def _np_logsumexp(terms: Sequence[Any]) -> Any:
    arrays = np.broadcast_arrays(*terms)
    return np.logaddexp.reduce(np.stack(arrays), axis=0)


NUMPY_OPS = Ops(
    exp=np.exp,
    log=np.log,
    softplus=lambda z: np.logaddexp(0.0, z),
    logsumexp=_np_logsumexp,
)


def pytensor_ops() -> Ops:
    """Operations on PyTensor tensors (imported lazily: PyTensor is slow to import)."""
    import pytensor.tensor as pt

    def logsumexp(terms: Sequence[Any]) -> Any:
        if len(terms) == 1:
            return terms[0]
        out = terms[0]
        for term in terms[1:]:
            out = pt.logaddexp(out, term)
        return out

    return Ops(exp=pt.exp, log=pt.log, softplus=pt.softplus, logsumexp=logsumexp)


Kind = Literal["offset", "scale", "exponent", "shape"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a law.

    Attributes
    ----------
    name
        Name in the posterior (natural scale), e.g. ``"alpha"``.
    description
        What it means, for summaries and docs.
    kind
        ``"offset"`` (irreducible loss), ``"scale"`` (size of a term at the reference
        scale), ``"exponent"`` (power-law exponent) or ``"shape"`` (break location,
        sharpness). The default pooling is chosen by kind.
    positive
        If true the parameter is sampled as its logarithm ``log_<name>`` and its prior is
        log-normal; otherwise it is sampled directly with a normal prior.
    """

    name: str
    description: str
    kind: Kind
    positive: bool = True

    @property
    def raw_name(self) -> str:
        """Name of the unconstrained variable that is sampled."""
        return f"log_{self.name}" if self.positive else self.name


@dataclass(frozen=True)
class Law:
    """A scaling law: parameters, inputs and one equation.

    Attributes
    ----------
    name
        Registry name (``"chinchilla"`` ...).
    inputs
        Scale columns of the data the law reads, e.g. ``("params", "tokens")``.
    parameters
        The law's parameters in the reference parameterisation.
    log_terms
        ``log_terms(ops, theta, u) -> list`` of the logarithms of the additive terms of
        ``L``; ``theta`` maps parameter names to values (natural scale), ``u`` maps each
        input to ``log x - log x_ref``.
    conventional
        ``conventional(theta, log_ref) -> dict`` of the conventional parameters that
        differ from the reference ones (e.g. ``A`` from ``A_ref``), with ``log_ref``
        mapping each input to ``log x_ref``.
    equation
        The law in plain text, for summaries.
    """

    name: str
    inputs: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    log_terms: Callable[[Ops, Mapping[str, Any], Mapping[str, Any]], list[Any]]
    conventional: Callable[[Mapping[str, Any], Mapping[str, float]], dict[str, Any]]
    equation: str
    options: dict[str, str] = field(default_factory=dict)
    doc: str = ""

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise SpecificationError(
            f"law {self.name!r} has no parameter {name!r}; it has {self.parameter_names}"
        )

    @property
    def spec(self) -> str:
        """String that :func:`get_law` turns back into this law."""
        if self.options.get("x"):
            return f"{self.name}:{self.options['x']}"
        return self.name

    def log_mean(self, ops: Ops, theta: Mapping[str, Any], u: Mapping[str, Any]) -> Any:
        r""":math:`\log L` at centred log-scales ``u`` (any backend)."""
        return ops.logsumexp(self.log_terms(ops, theta, u))

    def predict(
        self,
        theta: Mapping[str, np.ndarray],
        x: Mapping[str, np.ndarray],
        log_ref: Mapping[str, float],
    ) -> np.ndarray:
        """Evaluate ``L`` with NumPy at raw scales ``x`` (arrays broadcast together)."""
        u = {k: np.log(np.asarray(x[k], dtype=float)) - log_ref[k] for k in self.inputs}
        return np.exp(self.log_mean(NUMPY_OPS, theta, u))


def _power_law_terms(x: str) -> Callable[[Ops, Mapping[str, Any], Mapping[str, Any]], list[Any]]:
    def terms(ops: Ops, th: Mapping[str, Any], u: Mapping[str, Any]) -> list[Any]:
        return [ops.log(th["E"]), ops.log(th["A_ref"]) - th["alpha"] * u[x]]

    return terms


def power_law(x: str = dims.COL_PARAMS) -> Law:
    r"""Power law with an offset in one scale variable.

    .. math:: L(x) = E + A x^{-\alpha} = E + A_\mathrm{ref}\,(x / x_\mathrm{ref})^{-\alpha}

    Parameters
    ----------
    x
        The scale variable: ``"params"`` (N), ``"tokens"`` (D) or ``"compute"`` (C).
    """
    return _power_law(x)


@functools.cache
def _power_law(x: str) -> Law:
    if x not in dims.SCALE_COLUMNS:
        raise SpecificationError(f"power_law needs x in {dims.SCALE_COLUMNS}, not {x!r}")

    def conventional(th: Mapping[str, Any], log_ref: Mapping[str, float]) -> dict[str, Any]:
        return {"A": th["A_ref"] * np.exp(th["alpha"] * log_ref[x])}

    return Law(
        name="power_law",
        inputs=(x,),
        parameters=(
            Parameter("E", "irreducible loss (limit as x grows)", "offset"),
            Parameter("A_ref", f"reducible loss at the reference {x}", "scale"),
            Parameter("alpha", f"exponent of {x}", "exponent"),
        ),
        log_terms=_power_law_terms(x),
        conventional=conventional,
        equation=f"L = E + A * {x}^-alpha",
        options={"x": x},
        doc=power_law.__doc__ or "",
    )


def _beta(th: Mapping[str, Any]) -> Any:
    """The exponent of D: ``beta``, or ``alpha`` for ``chinchilla_tied`` (no ``beta``)."""
    return th["beta"] if "beta" in th else th["alpha"]


def _chinchilla_terms(ops: Ops, th: Mapping[str, Any], u: Mapping[str, Any]) -> list[Any]:
    return [
        ops.log(th["E"]),
        ops.log(th["A_ref"]) - th["alpha"] * u[dims.COL_PARAMS],
        ops.log(th["B_ref"]) - _beta(th) * u[dims.COL_TOKENS],
    ]


def _chinchilla_conventional(th: Mapping[str, Any], log_ref: Mapping[str, float]) -> dict[str, Any]:
    return {
        "A": th["A_ref"] * np.exp(th["alpha"] * log_ref[dims.COL_PARAMS]),
        "B": th["B_ref"] * np.exp(_beta(th) * log_ref[dims.COL_TOKENS]),
    }


chinchilla = Law(
    name="chinchilla",
    inputs=(dims.COL_PARAMS, dims.COL_TOKENS),
    parameters=(
        Parameter("E", "irreducible loss (N, D -> infinity)", "offset"),
        Parameter("A_ref", "parameter-limited loss term at the reference N", "scale"),
        Parameter("alpha", "exponent of parameters N", "exponent"),
        Parameter("B_ref", "data-limited loss term at the reference D", "scale"),
        Parameter("beta", "exponent of tokens D", "exponent"),
    ),
    log_terms=_chinchilla_terms,
    conventional=_chinchilla_conventional,
    equation="L = E + A * N^-alpha + B * D^-beta",
    doc=r"""The Chinchilla law (Hoffmann et al. 2022; Besiroglu et al. 2024).

.. math::

    L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta}
            = E + A_\mathrm{ref} e^{-\alpha u_N} + B_\mathrm{ref} e^{-\beta u_D}
""",
)


chinchilla_tied = replace(
    chinchilla,
    name="chinchilla_tied",
    parameters=tuple(
        Parameter("alpha", "exponent of parameters N and of tokens D", "exponent")
        if p.name == "alpha"
        else p
        for p in chinchilla.parameters
        if p.name != "beta"
    ),
    equation="L = E + A * N^-alpha + B * D^-alpha",
    doc=r"""The Chinchilla law with one exponent for parameters and tokens (Gadre et al. 2024).

.. math::

    L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\alpha}
            = E + A_\mathrm{ref} e^{-\alpha u_N} + B_\mathrm{ref} e^{-\alpha u_D}

Gadre et al. (2024, eq. 3) assume :math:`\alpha = \beta` (Hoffmann et al. 2022 and
Besiroglu et al. 2024 find the two close) and write the law in compute
:math:`C = 6ND` and tokens per parameter :math:`M = D/N`; it has one parameter fewer
than :data:`chinchilla`. Its compute-optimal tokens per parameter,
:math:`(\beta B / \alpha A)^{1/(\alpha+\beta)}` with :math:`\beta=\alpha`, do not
change with the budget.
""",
)


def _bnsl_terms(x: str) -> Callable[[Ops, Mapping[str, Any], Mapping[str, Any]], list[Any]]:
    def terms(ops: Ops, th: Mapping[str, Any], u: Mapping[str, Any]) -> list[Any]:
        s = th["sharpness"]
        return [
            ops.log(th["E"]),
            ops.log(th["A_ref"])
            - th["alpha"] * u[x]
            - th["delta"] * s * ops.softplus((u[x] - th["log_break"]) / s),
        ]

    return terms


def broken_power_law(x: str = dims.COL_COMPUTE) -> Law:
    r"""Smoothly broken power law with one break (Caballero et al. 2022).

    .. math::

        L(x) = E + A x^{-\alpha}
               \left(1 + (x / x_b)^{1/s}\right)^{-\delta s}

    Below the break :math:`x_b` the reducible loss falls with exponent :math:`\alpha`,
    above it with :math:`\alpha + \delta`; :math:`s > 0` sets how sharp the bend is (in
    units of :math:`\log x`). Fitted as

    .. math::

        \log T = \log A_\mathrm{ref} - \alpha u
                 - \delta s \operatorname{softplus}((u - u_b) / s),
        \quad u_b = \log x_b - \log x_\mathrm{ref}

    (``log_break`` is :math:`u_b`). Reported conventionally as ``A`` and ``x_break``.

    Parameters
    ----------
    x
        The scale variable: ``"params"``, ``"tokens"`` or ``"compute"``.
    """
    return _broken_power_law(x)


@functools.cache
def _broken_power_law(x: str) -> Law:
    if x not in dims.SCALE_COLUMNS:
        raise SpecificationError(f"broken_power_law needs x in {dims.SCALE_COLUMNS}, not {x!r}")

    def conventional(th: Mapping[str, Any], log_ref: Mapping[str, float]) -> dict[str, Any]:
        return {
            "A": th["A_ref"] * np.exp(th["alpha"] * log_ref[x]),
            "x_break": np.exp(th["log_break"] + log_ref[x]),
        }

    return Law(
        name="broken_power_law",
        inputs=(x,),
        parameters=(
            Parameter("E", "irreducible loss", "offset"),
            Parameter("A_ref", f"reducible loss at the reference {x} (before the break)", "scale"),
            Parameter("alpha", "exponent before the break", "exponent"),
            Parameter("delta", "change of exponent at the break", "shape", positive=False),
            Parameter("log_break", f"log of break {x} over the reference", "shape", False),
            Parameter("sharpness", "width of the bend in log units", "shape"),
        ),
        log_terms=_bnsl_terms(x),
        conventional=conventional,
        equation=f"L = E + A * {x}^-alpha * (1 + ({x}/x_break)^(1/s))^(-delta*s)",
        options={"x": x},
        doc=broken_power_law.__doc__ or "",
    )


#: Registered laws: name -> factory taking the optional scale variable.
LAWS: dict[str, Callable[..., Law]] = {
    "power_law": power_law,
    "chinchilla": lambda: chinchilla,
    "chinchilla_tied": lambda: chinchilla_tied,
    "broken_power_law": broken_power_law,
}


BUILTIN_LAWS = frozenset({"power_law", "chinchilla", "chinchilla_tied", "broken_power_law"})


def register_law(law: Law, *, overwrite: bool = False) -> Law:
    """Make a custom :class:`Law` known by its name, so saved fits of it load again.

    A law passed to :func:`bayescale.fit` is registered automatically (a newer definition
    of the same name replaces the older one, as when a notebook cell is run again); a fit
    of a custom law saved to disk loads in another session once the law is registered
    there.

    Raises
    ------
    SpecificationError
        For a built-in law's name, a law with a scale-variable option, or a different law
        already registered under that name (unless ``overwrite=True``).
    """
    if law.name in BUILTIN_LAWS:
        raise SpecificationError(f"{law.name!r} is a built-in law; give your law another name")
    if law.options.get("x"):
        raise SpecificationError("register one-variable laws without options, one per x")
    current = LAWS.get(law.name)
    if current is not None and current() is not law and not overwrite:
        raise SpecificationError(
            f"a different law named {law.name!r} is registered; pass overwrite=True to replace it"
        )
    LAWS[law.name] = lambda: law
    return law


def get_law(law: str | Law) -> Law:
    """Turn a law specification into a :class:`Law`.

    ``law`` is a :class:`Law`, a registered name (``"chinchilla"``, ``"power_law"``,
    ``"broken_power_law"``, or a custom law's) or ``"name:x"`` with the scale variable of
    a built-in one-variable law, e.g. ``"power_law:compute"``. ``"power_law"`` alone uses
    ``params``; ``"broken_power_law"`` alone uses ``compute``.
    """
    if isinstance(law, Law):
        if law.name in BUILTIN_LAWS:
            if get_law(law.spec) is not law:
                raise SpecificationError(
                    f"{law.name!r} is a built-in law; give your law another name"
                )
            return law
        register_law(law, overwrite=True)
        return law
    name, _, x = str(law).partition(":")
    if name not in LAWS:
        raise SpecificationError(f"unknown law {name!r}; choose one of {sorted(LAWS)}")
    if x:
        if name == "chinchilla":
            raise SpecificationError("chinchilla reads params and tokens; it takes no ':x'")
        if name not in BUILTIN_LAWS:
            raise SpecificationError(f"law {name!r} takes no ':x' scale variable")
        return LAWS[name](x)
    return LAWS[name]()
