"""Frequency regulation (AGC following): a RegD-like signal, the VPP's response, a PJM-style score, settlement.

A regulation award of ``capacity_mw`` (symmetric, MW) obliges the VPP to add ``capacity_mw * s_k`` to
its base injection at every sub-step ``k`` of a market interval, where ``s_k in [-1, 1]`` is the grid
operator's AGC signal. Sign convention as everywhere in vpp-gym: positive = more injection into the
grid (regulation up). A market interval of ``dt_h`` hours is split into ``S`` sub-steps
(:attr:`AgcSignalConfig.substeps`; ``S = 15`` gives one-minute sub-steps of a 15-minute interval).

**Signal** (:func:`agc_signal`). A fast, mean-reverting, roughly energy-neutral signal in the spirit of
PJM's RegD. With i.i.d. ``eps_k ~ N(0, sigma^2)``, persistence ``phi`` and energy reversion ``kappa``::

    z_k = phi * z_{k-1} + eps_k                  (fast latent AR(1) / discretised Ornstein-Uhlenbeck)
    W_k = (1 - kappa) * W_{k-1} + z_k            (accumulated energy of the signal, sub-step units)
    y_k = W_k - W_{k-1} = z_k - kappa * W_{k-1}  (latent signal: z minus a pull-back of the energy)
    s_k = clip(y_k, -1, 1)

so ``y = sigma * (1 - q^-1) / ((1 - phi q^-1)(1 - (1 - kappa) q^-1)) * e`` (one ``scipy.signal.lfilter``
over the flattened time axis). The integral of the signal, ``W``, is a stationary process pulled back
to zero with time constant ``~1/kappa`` sub-steps, so the signal is energy-neutral over that horizon
(an interval or a few) instead of drifting like a random walk. With the two poles ``p1 = phi`` and
``p2 = 1 - kappa`` the stationary variance of ``y`` is (from ``Var(y) = 2 (gamma_W(0) - gamma_W(1))`` of the
AR(2) process ``W``)::

    Var(y) = 2 sigma^2 / ((1 - p1 p2) (1 + p1) (1 + p2))

and ``sigma`` is chosen so that ``std(y) = amplitude`` (before the clip). Each call starts the filter
``burn_in_substeps`` before the first returned sub-step, so the returned signal is (nearly) stationary.

**Response** (:func:`response`). The requested regulation ``r_k = capacity_mw * s_k`` is delayed by
``d`` sub-steps, rate-limited and saturated by the headroom ``[-down_mw, up_mw]``::

    u_k = r_{k-d}  for k >= d,   u_k = 0  for k < d          (0 = no regulation offset before the interval)
    x_k = clip(u_k, x_{k-1} - ramp, x_{k-1} + ramp),  x_{-1} = 0
    x_k = clip(x_k, -down_mw, up_mw)

**Providers** (``markets.regulation.providers``; :func:`cap_award`, :func:`split_award`, :func:`respond`).
By default the battery alone follows the signal (the v0 rule). The EV fleet and the flexible load can
provide regulation too. Each provider ``i`` declares its headroom ``(up_i, down_i)`` around its base
setpoint of the interval (``SPEC.reg_headroom`` of its resource module):

- battery: ``up = p_hi - p_bat``, ``down = p_bat - p_lo`` within the SOC-feasible range;
- EV fleet: ``up = ev_hi - p_ev``, ``down = p_ev - ev_lo`` within the fleet's feasible range of the interval
  (:func:`vpp_gym.resources.ev_fleet.feasible_range`: the plugged-in share's charging and V2G power, the
  energy the vehicles still need and the room they have); without V2G, ``ev_hi = 0``, so the fleet
  regulates by charging less or more around a charging setpoint;
- flexible load: the shift band, ``up = shift_share L - s``, ``down = s + shift_share L`` around the base
  shift ``s`` (deferring more or less consumption, as thermostatic loads do; curtailment stays for
  reserve), and none in the last interval of a shift window, where the shift is forced to repay the
  backlog.

The capability is ``sum_i max(min(up_i, down_i), 0)``; the award is capped at it and split
(``split: fastest_first``: in speed order, shortest delay first, then no ramp limit, then battery, EV,
load, each takes ``min(what is left, its headroom)``; ``pro_rata``: ``A cap_i / sum cap``). Provider ``i``
follows its share ``C_i`` with its own delay and ramp (:func:`response`; the battery's
``delay_substeps`` / ``ramp_mw_per_substep``, the others' ``delay_substeps`` and
``ramp_share_per_substep x C_i``), saturated to its own headroom; the aggregate ``sum_i r_i`` is scored
and paid as below. Each response acts on its provider: the battery's state of charge over the sub-step
profile (wear on its mean ``|p|``); the fleet's need over its profile ``p_k = p_ev + r_k``
(:func:`vpp_gym.resources.ev_fleet.charge_and_depart` with the means of ``min(p_k, 0)`` and
``max(p_k, 0)``; V2G wear on the latter); the load's backlog gains ``mean(r) dt`` (deferred consumption,
repaid by the window's end like any shift) and its shift cost is charged on the mean ``|s + r_k|``. The
mean aggregate response is instructed energy (not an imbalance), as before.

**Performance score** (:func:`performance_score`), the structure of PJM Manual 12's regulation
performance score (accuracy/correlation, delay, precision, equal weights) adapted to one market interval
of ``S`` sub-steps and a maximum admissible delay of ``D`` sub-steps (the analogue of PJM's 5 minutes).
With ``req`` the requested and ``resp`` the response MW, window length ``W = S - D``::

    corr(l)   = Pearson(req[0:W], resp[l:l+W]),                 l = 0..D  (response shifted later by l)
    accuracy  = clip(max_l corr(l), 0, 1)
    lag*      = smallest l with corr(l) >= max_l corr(l) - 1e-9
    delay     = 1 - lag* / D   if max_l corr(l) > 0 (D = 0: 1),   else 0
    precision = clip(1 - mean_k |resp_k - req_k| / mean_k |req_k|, 0, 1)
    score     = (accuracy + delay + precision) / 3

``delay = 1 - lag*/D`` is PJM's ``|(delta - 5 min) / 5 min|`` with 5 min mapped to ``D`` sub-steps: 1 for
an immediate response, 0 at the longest admissible delay. Every lag is compared on the same window of
``W`` requested samples. Degenerate cases are defined so that no NaN can appear:

- ``mean|req| <= 1e-12`` MW (zero capacity or an all-zero signal): precision = 1 if also
  ``mean|resp - req| <= 1e-12`` MW, else 0.
- a flat requested window (standard deviation <= 1e-9 x its largest magnitude, e.g. all zero or a
  constant signal): correlation is undefined, there is no shape to follow, and the score reduces to the
  precision: accuracy = delay = precision. Zero capacity with no response therefore scores 1 on all four.
- a flat response window against a non-flat request: corr(l) = 0 for that lag (no co-movement).
- no lag with a positive correlation (no response, or a response against the signal): accuracy = 0 and
  delay = 0, since no delay of a following response can be identified.

**Mileage and settlement** (:func:`mileage`, :func:`settle`). Mileage is the travelled distance of the
signal, ``sum_k |s_k - s_{k-1}|``; the MW mileage is ``capacity_mw * mileage(signal)``. Payment follows the
two-part (capacity + performance/mileage) regulation compensation of PJM after FERC Order 755, scaled by
the performance score, with a qualification threshold ``min_score``::

    payment = (capacity_mw * cap_price * dt_h + mileage_mw * mileage_price) * score   if score >= min_score
    payment = 0                                                                         otherwise

**K value** (``scoring: k_value``; :class:`KValueConfig`, :func:`k_components`, :func:`k_value`,
:func:`settle_k`, :func:`ranking_price`): the performance index of China's provincial regulation markets,
measured from the same recorded response, per interval, with ``C`` the award, ``tau`` the minutes per
sub-step and ``tol = FLAT_RTOL * max_k |x_k|``::

    k1 = min(v / (standard_rate_share_per_min * C), k1_max),
         v = sum_{k>=1} |x_k - x_{k-1}| / (tau * #{k >= 1: |x_k - x_{k-1}| > tol})   (MW/min while moving)
    k2 = 1 - lag* / D         (lag* as in the PJM score: the best-correlated delay, D = max_delay_substeps)
    k3 = clip(1 - mean_{k<W} |x_{k+lag*} - req_k| / (allowed_error_share * C), 0, 1)
    K  = min(w1 k1 + w2 k2 + w3 k3, k_max)     (formula guangdong: a weighted sum)
    K  = min(k1 k2 k3, k_max)                  (formula shanxi: a product)

Degenerate cases: a flat request window (nothing to follow; zero capacity) gives ``k1 = k2 = 1`` and
``k3`` from the error against 0 (a zero allowance: 1 if the error is zero, else 0); a request that moves
with a response that does not gives ``k1 = 0``; no positively correlated lag gives ``k2 = 0`` and ``k3``
without a shift. Settlement (:func:`settle_k`)::

    payment = C * cap_price * dt_h + mileage_mw * mileage_price * K     if K >= k_min
    payment = 0                                                         otherwise

(capacity is not scaled by K, the mileage is: the Guangdong two-part form; the Shanxi rules pay the
mileage part only, which is ``cap_price = 0``). In the transaction form the VPP's offer is ranked at
``offer_price / K_rank`` (:func:`ranking_price`), ``K_rank`` the K of the last interval in which the VPP
followed an award (carried in the state as ``reg_score = K / k_max``; 1, the standard unit, before any),
and every accepted offer is paid the marginal ranking price; competitors rank at their offer price
(their K is taken as 1). Simplifications, all documented in ``docs/market_rules.md`` section 2.1: the
rate is measured on the sub-step response instead of per AGC command segment, the standard rate is a
share of the award instead of the unit's rated power, and the precision is measured on the delay-aligned
window instead of after each command settles. With several providers the VPP is scored as one unit on its
aggregate response (a VPP is metered at its point of aggregation); section 2.2 of ``docs/market_rules.md``
gives the providers' response models and their sources.

Sources, stated modestly: PJM Manual 12 (Balancing Operations), section on regulation performance
scoring; PJM's RegD signal description. Sub-step resolution, the fixed comparison window, the tie and
degenerate-case rules and the signal model are this module's adaptation, not PJM's text.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy.signal import lfilter

from vpp_gym import rng as rnd
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.entries import Entry
from vpp_gym.markets.spec import ProductSpec
from vpp_gym.ops import Array, lift, lower
from vpp_gym.validation import require, require_int, require_range

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval

ZERO_MW = 1e-12
"""A mean absolute request (or error) at or below this many MW counts as zero (see module docstring)."""

FLAT_RTOL = 1e-9
"""A window whose standard deviation is at most this share of its largest magnitude counts as flat."""

TIE_TOL = 1e-9
"""Correlations within this of the maximum count as ties; the smallest such lag is chosen."""

SCORE_KEYS = ("score", "accuracy", "delay", "precision")


@dataclass(frozen=True)
class AgcSignalConfig:
    """Parameters of the AGC (regulation) signal, fixed for an episode. Equations in the module docstring.

    Attributes:
        substeps: sub-steps per market interval (``S``; 15 = one minute at 15-minute intervals), in [2, 3600].
        persistence: AR(1) coefficient ``phi`` of the fast latent signal per sub-step, in ``[0, 0.99]``;
            higher = smoother, slower signal (correlation time ~ ``1 / (1 - phi)`` sub-steps).
        energy_reversion: share ``kappa`` of the signal's accumulated energy pulled back per sub-step, in
            ``[0.01, 1]``; the signal is energy-neutral over ~ ``1 / kappa`` sub-steps.
        amplitude: stationary standard deviation of the latent signal before the clip to ``[-1, 1]``, in
            ``(0, 1]``; 0.5 saturates about 5% of the sub-steps.
    """

    substeps: int = 15
    persistence: float = 0.8
    energy_reversion: float = 0.1
    amplitude: float = 0.5

    def __post_init__(self) -> None:
        require_int("substeps", self.substeps, 2, 3600)
        require_range("persistence", self.persistence, 0.0, 0.99)
        require_range("energy_reversion", self.energy_reversion, 0.01, 1.0)
        require_range("amplitude", self.amplitude, 0.0, 1.0, lo_open=True)

    @property
    def poles(self) -> tuple[float, float]:
        """The two poles ``(p1, p2) = (phi, 1 - kappa)`` of the signal filter."""
        return self.persistence, 1.0 - self.energy_reversion

    @property
    def noise_std(self) -> float:
        """Innovation standard deviation ``sigma`` giving ``std(y) = amplitude`` in steady state."""
        p1, p2 = self.poles
        return self.amplitude * math.sqrt((1.0 - p1 * p2) * (1.0 + p1) * (1.0 + p2) / 2.0)

    @property
    def burn_in_substeps(self) -> int:
        """Sub-steps run before the returned signal so the slowest mode has decayed to 0.1% of its start."""
        p_max = max(self.poles)
        if p_max <= 0.0:
            return 2
        return max(2, math.ceil(math.log(1e-3) / math.log(p_max)))


K_FORMULAS = ("guangdong", "shanxi")
"""The K-value formulas: a weighted sum of ``k1, k2, k3`` (guangdong) or their product (shanxi)."""

K_KEYS = ("k", "k1", "k2", "k3")


@dataclass(frozen=True)
class KValueConfig:
    """The K value of China's regulation markets (``markets.regulation.scoring: k_value``).

    Equations in the module docstring; sources and status in ``docs/market_rules.md`` section 2.1.

    Attributes:
        formula: ``guangdong`` (default): ``K = w1 k1 + w2 k2 + w3 k3``; ``shanxi``: ``K = k1 k2 k3``.
        weights: ``(w1, w2, w3)`` of the weighted sum, each in [0, 1], summing to 1. Default
            ``(0.5, 0.25, 0.25)``, i.e. ``0.25 (2 k1 + k2 + k3)`` (assumption); Shaanxi's draft has
            ``(0.6, 0.2, 0.2)``.
        standard_rate_share_per_min: the standard unit's regulation rate, as a share of the award per
            minute (assumption 0.1).
        k1_max: cap of ``k1`` (assumption 5).
        allowed_error_share: the admissible mean tracking error, as a share of the award (assumption 0.1).
        k_max: cap of K in settlement (2.0, Shaanxi draft).
        k_min: an interval with ``K < k_min`` is not paid (assumption 0.5).
    """

    formula: Literal["guangdong", "shanxi"] = "guangdong"
    weights: tuple[float, float, float] = (0.5, 0.25, 0.25)
    standard_rate_share_per_min: float = 0.1
    k1_max: float = 5.0
    allowed_error_share: float = 0.1
    k_max: float = 2.0
    k_min: float = 0.5

    def __post_init__(self) -> None:
        require(self.formula in K_FORMULAS, "formula", self.formula, "'guangdong' or 'shanxi'")
        w = self.weights
        require(
            isinstance(w, tuple | list) and len(w) == 3 and all(isinstance(v, int | float) and 0 <= v <= 1 for v in w),
            "weights",
            w,
            "three numbers in [0, 1] (w1, w2, w3) for k1, k2, k3",
        )
        require(abs(sum(w) - 1.0) <= 1e-9, "weights", w, "weights that sum to 1, e.g. [0.5, 0.25, 0.25]")
        object.__setattr__(self, "weights", tuple(float(v) for v in w))
        require_range("standard_rate_share_per_min", self.standard_rate_share_per_min, 0.0, 100.0, lo_open=True)
        require_range("k1_max", self.k1_max, 0.0, 100.0, lo_open=True)
        require_range("allowed_error_share", self.allowed_error_share, 0.0, 10.0, lo_open=True)
        require_range("k_max", self.k_max, 0.0, 100.0, lo_open=True)
        require_range("k_min", self.k_min, 0.0, self.k_max)


PROVIDERS = ("battery", "ev", "flex_load")
"""The resources that can follow the AGC signal (``markets.regulation.providers``), in registry order."""

SPLITS = ("fastest_first", "pro_rata")
"""Rules splitting the award between the providers (``markets.regulation.split``)."""


@dataclass(frozen=True)
class ProviderResponseConfig:
    """The response model of one regulation provider (the EV fleet, the flexible load), in AGC sub-steps.

    The provider's share ``C_i`` of the award is followed as :func:`response` follows it: the request
    ``C_i s_k`` delayed by ``delay_substeps``, rate-limited to ``ramp_share_per_substep x C_i`` MW per
    sub-step (a fleet of devices ramps in proportion to the capacity it engages) and saturated to the
    provider's own headroom. Defaults and sources: ``docs/market_rules.md`` section 2.2.

    Attributes:
        delay_substeps: response delay in whole sub-steps (the aggregator's control chain and the devices'),
            less than ``agc.substeps``.
        ramp_share_per_substep: largest change of the response per sub-step as a share of the provider's
            share of the award, in ``(0, 2]`` (2 = a full swing from ``-C_i`` to ``C_i`` in one sub-step);
            null = no limit.
    """

    delay_substeps: int = 0
    ramp_share_per_substep: float | None = None

    def __post_init__(self) -> None:
        require_int("delay_substeps", self.delay_substeps, 0, 3599)
        if self.ramp_share_per_substep is not None:
            require_range("ramp_share_per_substep", self.ramp_share_per_substep, 0.0, 2.0, lo_open=True)


@dataclass(frozen=True)
class EvResponseConfig(ProviderResponseConfig):
    """The EV fleet's response (``markets.regulation.ev``): chargers follow a power command within seconds,
    i.e. inside one one-minute sub-step: no delay, no ramp limit (the fleet is limited by its headroom)."""


@dataclass(frozen=True)
class FlexLoadResponseConfig(ProviderResponseConfig):
    """The flexible load's response (``markets.regulation.flex_load``): building HVAC and industrial loads
    answer through a building or process controller: one sub-step of delay (one minute at the default
    resolution) and half their share per sub-step of ramp (assumptions, ``docs/market_rules.md`` 2.2)."""

    delay_substeps: int = 1
    ramp_share_per_substep: float | None = 0.5


def agc_signal(cfg: AgcSignalConfig, rng: rnd.Rng, batch: int, steps: int) -> np.ndarray:
    """Draw a RegD-like regulation signal for ``steps`` market intervals of ``batch`` environments.

    The time axis is one continuous signal over the intervals (interval ``t`` sub-step ``k`` is flat index
    ``t * S + k``); environments are independent. Equations in the module docstring.

    Args:
        cfg: signal parameters.
        rng: the only source of randomness (or one generator per environment, see
            :mod:`vpp_gym.rng`); the same generator state gives the same signal.
        batch: number of environments ``B`` (>= 1).
        steps: number of market intervals (>= 1).

    Returns:
        ``(B, steps, S)`` float64 array in ``[-1, 1]``.
    """
    if batch < 1 or steps < 1:
        raise ValueError(f"agc_signal: batch and steps must be >= 1, got batch={batch}, steps={steps}")
    burn = cfg.burn_in_substeps
    n = steps * cfg.substeps
    eps = rnd.normal(rng, (batch, burn + n)) * cfg.noise_std
    p1, p2 = cfg.poles
    y = lfilter([1.0, -1.0], [1.0, -(p1 + p2), p1 * p2], eps, axis=1)[:, burn:]
    return np.clip(y, -1.0, 1.0).reshape(batch, steps, cfg.substeps).astype(np.float64, copy=False)


def _per_row(name: str, value: Array, batch: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == (batch,):
        return arr
    try:
        return np.broadcast_to(arr, (batch,))
    except ValueError:
        raise ValueError(f"{name}: expected a scalar or shape ({batch},), got shape {arr.shape}") from None


def response(
    capacity_mw: Array,
    signal: Array,
    up_mw: Array,
    down_mw: Array,
    delay_substeps: int | Array = 0,
    ramp_mw_per_substep: float | Array = np.inf,
) -> np.ndarray:
    """The VPP's regulation response (MW, positive = more injection) over one market interval.

    The request ``capacity_mw[:, None] * signal`` is delayed by ``delay_substeps`` (sub-steps before the
    delay has elapsed hold 0, the regulation offset before the interval), rate-limited to
    ``ramp_mw_per_substep`` per sub-step starting from 0, and saturated to ``[-down_mw, up_mw]`` at every
    sub-step (saturation inside the ramp recursion, so no wind-up). Equations in the module docstring.

    The headroom is what the battery and the flexible resources can add to (``up_mw``) or withdraw from
    (``down_mw``) the injection around their base setpoints of this interval: ``up_mw = sum(p_hi - base)``,
    ``down_mw = sum(base - p_lo)`` over the feasible ranges. Keeping the response inside
    ``[-down_mw, up_mw]`` at every sub-step keeps ``base + response`` inside the resources' feasible range.

    Args:
        capacity_mw: awarded regulation capacity, scalar or ``(B,)``, >= 0.
        signal: AGC signal of the interval, ``(B, S)``, in ``[-1, 1]``.
        up_mw: upward headroom, scalar or ``(B,)``, >= 0.
        down_mw: downward headroom (a positive number), scalar or ``(B,)``, >= 0.
        delay_substeps: response delay in whole sub-steps, integer scalar or ``(B,)``, >= 0.
        ramp_mw_per_substep: largest change of the response per sub-step, scalar or ``(B,)``, >= 0;
            ``inf`` = no limit.

    Returns:
        ``(B, S)`` response in MW, inside ``[-down_mw, up_mw]`` row by row.
    """
    sig = np.asarray(signal, dtype=np.float64)
    if sig.ndim != 2:
        raise ValueError(f"response: signal must be (B, S), got shape {sig.shape}")
    B, S = sig.shape
    cap = _per_row("capacity_mw", capacity_mw, B)
    up = _per_row("up_mw", up_mw, B)
    down = _per_row("down_mw", down_mw, B)
    ramp = _per_row("ramp_mw_per_substep", ramp_mw_per_substep, B)
    no_delay = isinstance(delay_substeps, int | np.integer) and delay_substeps == 0
    if not no_delay:
        delay = np.broadcast_to(np.asarray(delay_substeps), (B,))
        if not np.issubdtype(delay.dtype, np.integer) or np.any(delay < 0):
            raise ValueError(f"response: delay_substeps must be integers >= 0, got {delay_substeps!r}")
    if not ((cap >= 0.0).all() and (up >= 0.0).all() and (down >= 0.0).all() and (ramp >= 0.0).all()):
        for name, arr in (("capacity_mw", cap), ("up_mw", up), ("down_mw", down), ("ramp_mw_per_substep", ramp)):
            if not np.all(arr >= 0.0):  # also rejects NaN
                raise ValueError(f"response: {name} must be >= 0, got {arr}")

    requested = cap[:, None] * sig
    if no_delay:
        delayed = requested
    else:
        idx = np.arange(S)[None, :] - delay[:, None]
        delayed = np.where(idx >= 0, np.take_along_axis(requested, np.maximum(idx, 0), axis=1), 0.0)
    lo, hi = -down, up
    if np.isinf(ramp).all():
        return np.minimum(np.maximum(delayed, lo[:, None]), hi[:, None])
    out = np.empty((B, S))
    x = np.zeros(B)
    for k in range(S):
        x = np.clip(np.clip(delayed[:, k], x - ramp, x + ramp), lo, hi)
        out[:, k] = x
    return out


def _normalise_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre along the last axis and scale by the largest magnitude.

    Returns the centred rows, the flat mask and the rows' sums of squares (reused by the correlation).
    """
    n = a.shape[-1]
    scale = np.abs(a).max(axis=-1, keepdims=True)
    a = a / np.where(scale > 0.0, scale, 1.0)  # correlation is scale-free; avoids under/overflow
    centred = a - np.add.reduce(a, axis=-1, keepdims=True) / n
    ss = np.add.reduce(centred * centred, axis=-1)
    flat = np.sqrt(ss / n) <= FLAT_RTOL
    return centred, flat, ss


@functools.cache
def _lag_index(n_sub: int, window: int) -> np.ndarray:
    """Index ``[lag, k] = lag + k`` of the response windows, lags ``0 .. n_sub - window``."""
    return np.arange(n_sub - window + 1)[:, None] + np.arange(window)[None, :]


def performance_score(requested_mw: Array, response_mw: Array, max_delay_substeps: int) -> dict[str, np.ndarray]:
    """PJM-style regulation performance score of one market interval, row by row.

    Definitions, the comparison window and the degenerate cases are in the module docstring.

    Args:
        requested_mw: ``(B, S)`` requested regulation, ``capacity_mw * signal``.
        response_mw: ``(B, S)`` delivered regulation (e.g. from :func:`response`).
        max_delay_substeps: ``D``, the longest delay searched (PJM: 5 minutes), ``0 <= D <= S - 2``.

    Returns:
        ``{"score", "accuracy", "delay", "precision"}``, each ``(B,)`` in ``[0, 1]``, never NaN,
        with ``score = (accuracy + delay + precision) / 3``.
    """
    req = np.asarray(requested_mw, dtype=np.float64)
    resp = np.asarray(response_mw, dtype=np.float64)
    if req.ndim != 2 or req.shape != resp.shape:
        raise ValueError(f"performance_score: expected two (B, S) arrays, got {req.shape} and {resp.shape}")
    S = req.shape[1]
    D = int(max_delay_substeps)
    if not 0 <= D <= S - 2:
        raise ValueError(f"performance_score: max_delay_substeps must be in [0, S - 2 = {S - 2}], got {D}")

    # Perfect tracking scores exactly 1 on every component (the computation below would give the same
    # up to rounding); rows that track perfectly are set to 1, and a batch of them skips the work.
    exact = (resp == req).all(axis=1)
    if exact.all():
        ones = np.ones(req.shape[0])
        return {"score": ones, "accuracy": ones.copy(), "delay": ones.copy(), "precision": ones.copy()}

    scale = np.add.reduce(np.abs(req), axis=1) / S
    err = np.add.reduce(np.abs(resp - req), axis=1) / S
    zero_request = scale <= ZERO_MW
    ratio = err / np.where(zero_request, 1.0, scale)
    precision = np.where(
        zero_request, np.where(err <= ZERO_MW, 1.0, 0.0), np.minimum(np.maximum(1.0 - ratio, 0.0), 1.0)
    )

    best, lag, x_flat = _best_lag(req, resp, D)  # exact rows: 1 and 0 there, overridden below anyway
    accuracy = np.maximum(best, 0.0)
    delay = np.where(best > 0.0, 1.0 - lag / D if D > 0 else 1.0, 0.0)

    accuracy = np.where(x_flat, precision, accuracy)
    delay = np.where(x_flat, precision, delay)
    accuracy, delay, precision = (np.where(exact, 1.0, v) for v in (accuracy, delay, precision))
    score = (accuracy + delay + precision) / 3.0
    return {"score": score, "accuracy": accuracy, "delay": delay, "precision": precision}


def mileage(signal: Array, prev_last: Array | None = None) -> np.ndarray:
    """Mileage of the signal over one interval: ``sum_k |s_k - s_{k-1}|``, shape ``(B,)``.

    Args:
        signal: ``(B, S)`` signal of the interval (per unit of capacity).
        prev_last: last signal value of the previous interval, scalar or ``(B,)``; its step to the first
            value is included. ``None`` starts from the first value (no extra step).

    Returns:
        ``(B,)`` mileage per MW of capacity; the mileage in MW is ``capacity_mw * mileage(signal)``.
    """
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"mileage: signal must be (B, S), got shape {s.shape}")
    m = np.sum(np.abs(np.diff(s, axis=1)), axis=1)
    if prev_last is not None:
        m = m + np.abs(s[:, 0] - np.asarray(prev_last, dtype=np.float64))
    return m


def settle(
    capacity_mw: Array,
    score: Array,
    mileage_mw: Array,
    cap_price: Array,
    mileage_price: Array,
    dt_h: float,
    min_score: float,
) -> np.ndarray:
    """Regulation payment of one interval: capacity + mileage, scaled by the performance score.

    ``payment = (capacity_mw * cap_price * dt_h + mileage_mw * mileage_price) * score``, and 0 where
    ``score < min_score`` (a score exactly at the threshold is paid).

    Args:
        capacity_mw: awarded capacity (MW), scalar or ``(B,)``.
        score: performance score in ``[0, 1]``, ``(B,)``.
        mileage_mw: MW mileage of the interval, ``capacity_mw * mileage(signal)``, ``(B,)``.
        cap_price: capacity price per MW·h (currency / (MW h)).
        mileage_price: mileage price per MW of mileage (currency / MW).
        dt_h: interval length in hours, > 0.
        min_score: qualification threshold in ``[0, 1]`` (PJM-like).

    Returns:
        ``(B,)`` payment in currency units.
    """
    require_range("dt_h", dt_h, 0.0, lo_open=True)
    require_range("min_score", min_score, 0.0, 1.0)
    sc = np.asarray(score, dtype=np.float64)
    payment = (
        np.asarray(capacity_mw, dtype=np.float64) * cap_price * dt_h
        + np.asarray(mileage_mw, dtype=np.float64) * mileage_price
    ) * sc
    return np.where(sc >= min_score, payment, 0.0)


def _best_lag(req: np.ndarray, resp: np.ndarray, D: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best-correlated delay of the response, row by row, as in :func:`performance_score`.

    Returns ``(best correlation, lag*, flat request window)``; rows that track exactly have lag 0 and
    correlation 1 (a flat request is still reported flat).
    """
    S = req.shape[1]
    W = S - D
    windows = np.concatenate([req[:, None, :W], resp[:, _lag_index(S, W)]], axis=1)
    centred, flat, ss = _normalise_rows(windows)
    xc, x_flat, sxx = centred[:, 0], flat[:, 0], ss[:, 0]
    yc, y_flat, syy = centred[:, 1:], flat[:, 1:], ss[:, 1:]
    sxy = np.add.reduce(xc[:, None, :] * yc, axis=2)
    denom = np.sqrt(sxx[:, None] * syy)
    ok = ~(x_flat[:, None] | y_flat)
    corr = np.minimum(np.maximum(np.where(ok, sxy / np.where(ok, denom, 1.0), 0.0), -1.0), 1.0)
    best = corr.max(axis=1)
    lag = np.argmax(corr >= best[:, None] - TIE_TOL, axis=1)
    exact = (resp == req).all(axis=1)
    return np.where(exact, 1.0, best), np.where(exact, 0, lag), x_flat


def k_components(
    requested_mw: Array,
    response_mw: Array,
    capacity_mw: Array,
    minutes_per_substep: float,
    max_delay_substeps: int,
    cfg: KValueConfig,
) -> dict[str, np.ndarray]:
    """``k1, k2, k3`` and ``K`` of one market interval from a recorded response, row by row.

    Equations and degenerate cases in the module docstring.

    Args:
        requested_mw: ``(B, S)`` requested regulation, ``capacity_mw * signal``.
        response_mw: ``(B, S)`` the recorded response.
        capacity_mw: the award ``C``, scalar or ``(B,)``, >= 0 (the base of the standard rate and of the
            allowed error).
        minutes_per_substep: ``tau``, > 0.
        max_delay_substeps: ``D``, the longest delay searched and the allowed delay, ``0 <= D <= S - 2``.
        cfg: the K-value rules.

    Returns:
        ``{"k", "k1", "k2", "k3"}``, each ``(B,)``, never NaN; ``K`` capped at ``k_max``.
    """
    req = np.asarray(requested_mw, dtype=np.float64)
    resp = np.asarray(response_mw, dtype=np.float64)
    if req.ndim != 2 or req.shape != resp.shape:
        raise ValueError(f"k_components: expected two (B, S) arrays, got {req.shape} and {resp.shape}")
    require_range("minutes_per_substep", minutes_per_substep, 0.0, lo_open=True)
    B, S = req.shape
    D = int(max_delay_substeps)
    if not 0 <= D <= S - 2:
        raise ValueError(f"k_components: max_delay_substeps must be in [0, S - 2 = {S - 2}], got {D}")
    cap = _per_row("capacity_mw", capacity_mw, B)
    W = S - D

    if (resp == req).all():
        # every row tracks exactly (no delay or ramp limit: the award is capped at the headroom): lag 0 and
        # no error, so k2 = k3 = 1, the values the search below gives such rows; only the request's
        # flatness is needed from it (each row of the windows is normalised on its own)
        flat_req = _normalise_rows(req[:, :W])[1]
        k2 = k3 = np.ones(B)
    else:
        best, lag, flat_req = _best_lag(req, resp, D)
        follows = best > 0.0
        shift = np.where(follows, lag, 0)
        aligned = np.take_along_axis(resp, shift[:, None] + np.arange(W)[None, :], axis=1)
        err = np.add.reduce(np.abs(aligned - req[:, :W]), axis=1) / W
        allowed = cfg.allowed_error_share * cap
        zero_allowed = allowed <= ZERO_MW
        k3 = np.where(
            zero_allowed,
            np.where(err <= ZERO_MW, 1.0, 0.0),
            np.clip(1.0 - err / np.where(zero_allowed, 1.0, allowed), 0.0, 1.0),
        )
        k2 = np.where(follows, 1.0 - lag / D if D > 0 else 1.0, 0.0)

    steps = np.abs(np.diff(resp, axis=1))
    tol = FLAT_RTOL * np.abs(resp).max(axis=1, keepdims=True)
    moving = steps > tol
    n_moving = moving.sum(axis=1)
    rate = np.add.reduce(np.where(moving, steps, 0.0), axis=1) / (minutes_per_substep * np.maximum(n_moving, 1))
    standard = cfg.standard_rate_share_per_min * cap
    k1 = np.where(standard > ZERO_MW, np.minimum(rate / np.where(standard > ZERO_MW, standard, 1.0), cfg.k1_max), 0.0)
    k1 = np.where(n_moving == 0, 0.0, k1)
    k1, k2 = np.where(flat_req, 1.0, k1), np.where(flat_req, 1.0, k2)
    return {"k": k_value(k1, k2, k3, cfg), "k1": k1, "k2": k2, "k3": k3}


def k_value(k1: Array, k2: Array, k3: Array, cfg: KValueConfig) -> np.ndarray:
    """``K`` by the configured formula, capped at ``k_max``: ``min(w . (k1, k2, k3), k_max)`` (guangdong)
    or ``min(k1 k2 k3, k_max)`` (shanxi)."""
    k1, k2, k3 = (np.asarray(v, dtype=np.float64) for v in (k1, k2, k3))
    if cfg.formula == "shanxi":
        k = k1 * k2 * k3
    else:
        w1, w2, w3 = cfg.weights
        k = w1 * k1 + w2 * k2 + w3 * k3
    return np.minimum(k, cfg.k_max)


def settle_k(
    capacity_mw: Array,
    k: Array,
    mileage_mw: Array,
    cap_price: Array,
    mileage_price: Array,
    dt_h: float,
    k_min: float,
) -> np.ndarray:
    """Regulation payment of one interval under the K value: capacity + mileage x K.

    ``payment = capacity_mw * cap_price * dt_h + mileage_mw * mileage_price * k``, and 0 where
    ``k < k_min`` (a K exactly at the minimum is paid).
    """
    require_range("dt_h", dt_h, 0.0, lo_open=True)
    kk = np.asarray(k, dtype=np.float64)
    payment = (
        np.asarray(capacity_mw, dtype=np.float64) * cap_price * dt_h
        + np.asarray(mileage_mw, dtype=np.float64) * mileage_price * kk
    )
    return np.where(kk >= k_min, payment, 0.0)


def ranking_k(carried_score: Array, cfg: KValueConfig) -> np.ndarray:
    """The K the VPP's offer is ranked with: the last followed interval's K, ``carried_score * k_max``
    (the state's ``reg_score``), or 1 (the standard unit) while there is none (``reg_score = 0``)."""
    k = np.asarray(carried_score, dtype=np.float64) * cfg.k_max
    return np.where(k > 0.0, k, 1.0)


def ranking_price(offer_price: Array, k_rank: Array) -> np.ndarray:
    """The ranking price of an offer: ``offer_price / K`` (``K > 0``); offers clear in this order and
    every accepted offer is paid the marginal ranking price."""
    return np.asarray(offer_price, dtype=np.float64) / np.asarray(k_rank, dtype=np.float64)


I_MILEAGE_PRICE = ALL_NAMES.index("reg_mileage_price_per_mw")
"""Column of the mileage price in the exogenous rows."""


def split_award(award: Array, caps: dict[str, Array], rule: str, xp: Any) -> dict[str, Array]:
    """Each provider's share of the award (MW), ``caps`` their symmetric headroom in speed order.

    ``fastest_first``: ``C_i = min(A - sum_{j<i} C_j, cap_i)`` in the order of ``caps``; ``pro_rata``:
    ``C_i = A cap_i / sum_j cap_j`` (0 where no provider has headroom). One provider takes the whole award.
    """
    if len(caps) == 1:
        return dict.fromkeys(caps, award)
    shares: dict[str, Array] = {}
    if rule == "pro_rata":
        first, *rest = caps.values()
        total = first
        for cap in rest:
            total = total + cap
        den = xp.where(total > 0.0, total, 1.0)
        for name, cap in caps.items():
            shares[name] = award * (cap / den)
        return shares
    remaining = award
    for name, cap in caps.items():
        shares[name] = xp.minimum(remaining, cap)
        remaining = remaining - shares[name]
    return shares


def cap_award(c: Interval, d: Dispatch, accepted: dict[str, Any]) -> None:
    """Cap the award at the providers' symmetric headroom around their base setpoints; split it.

    ``award = min(cleared, sum_i max(min(up_i, down_i), 0))`` over the providers (by default the battery:
    ``up = bat_hi - p_bat``, ``down = p_bat - bat_lo``; each provider's ``SPEC.reg_headroom``): the
    capability the VPP can prove for the interval; no capacity is paid that could not follow the full
    signal. The award is shared by ``markets.regulation.split`` (:func:`split_award`). On the day-ahead
    timeline the cleared capacity is the D-1 award, and the part above the capability pays
    ``shortfall_penalty_per_mwh`` per MW and hour (non-delivery).
    """
    xp, led = c.xp, c.led
    rc = c.p.cfg.markets.regulation
    assert rc is not None
    cleared = accepted["regulation"]
    caps: dict[str, Array] = {}
    capability = None
    for spec, prm in c.p.reg_providers:
        up, down = spec.reg_headroom(c, d, prm)  # type: ignore[misc]
        caps[spec.name] = cap = xp.maximum(xp.minimum(up, down), 0.0)
        capability = cap if capability is None else capability + cap
    if capability is None:
        capability = c.zero
    award = xp.minimum(cleared, capability)
    accepted["regulation"] = award
    d.reg_mw = split_award(award, caps, rc.split, xp) if caps else {}
    d.reg_bat_mw = d.reg_mw.get("battery", c.zero)
    led["regulation.cleared_mw"], led["regulation.capability_mw"] = cleared, capability
    led["regulation.accepted_mw"] = award
    if rc.providers != DEFAULT_PROVIDERS:  # the split, written when other resources may provide
        for name, share in d.reg_mw.items():
            led[f"regulation.{name}_mw"] = share
    if c.p.day_ahead:  # the award was fixed at D-1: the part the headroom cannot hold is not delivered
        led["penalty.regulation_shortfall"] = (cleared - award) * (c.dt * rc.shortfall_penalty_per_mwh)


def respond(c: Interval, d: Dispatch, award: Array) -> dict[str, np.ndarray]:
    """Each provider's sub-step response ``(B, S)`` to the AGC signal around its setpoint; scores and settles.

    Provider ``i`` follows its share ``C_i`` of the award (:func:`split_award`; the whole award with one
    provider) with its own delay and ramp (the battery's ``delay_substeps`` / ``ramp_mw_per_substep``, the
    others' ``ramp_share_per_substep x C_i``), saturated to its headroom at that moment (the battery's
    after reserve deployment): :func:`response`. The aggregate response ``sum_i r_i`` is scored against
    ``award x signal`` and settled (:func:`performance_score` or :func:`k_components`, :func:`mileage`,
    :func:`settle` or :func:`settle_k`); the regulation state is carried to the next interval.

    Returns:
        ``{provider: response}`` of the providers present, in speed order.
    """
    rc, batched, led = c.p.cfg.markets.regulation, c.batched, c.led
    assert rc is not None and c.ep is not None and c.ep.agc is not None
    sig = c.ep.agc[c.at]  # (B, S)
    cap_a = lift(award, batched)
    providers = c.p.reg_providers
    responses: dict[str, np.ndarray] = {}
    total: np.ndarray | None = None
    for spec, prm in providers:
        share = cap_a if len(providers) == 1 else lift(d.reg_mw[spec.name], batched)
        up, down = spec.reg_headroom(c, d, prm)  # type: ignore[misc]
        delay, ramp_mw, ramp_share = rc.response_of(spec.name)
        if ramp_share is not None:
            ramp: float | np.ndarray = ramp_share * share
        else:
            ramp = np.inf if ramp_mw is None else ramp_mw
        up_a, down_a = np.maximum(lift(up, batched), 0.0), np.maximum(lift(down, batched), 0.0)
        r = responses[spec.name] = response(share, sig, up_a, down_a, delay, ramp)
        total = r if total is None else total + r
        if rc.providers != DEFAULT_PROVIDERS:
            led[f"regulation.{spec.name}_response_mw"] = lower(np.add.reduce(r, axis=1) * (1.0 / r.shape[1]), batched)
    assert total is not None
    miles = cap_a * mileage(sig, lift(c.s.agc_last, batched))
    mileage_price = lift(c.x[I_MILEAGE_PRICE], batched)
    cap_price = lift(led["regulation.price"], batched)
    if rc.scoring == "k_value":  # the K value: mileage x K, carried K for the next offer's ranking
        kv = rc.k_value
        tau = 60.0 * c.dt / sig.shape[1]
        score = k_components(cap_a[:, None] * sig, total, cap_a, tau, rc.max_delay_substeps, kv)["k"]
        cash = settle_k(cap_a, score, miles, cap_price, mileage_price, c.dt, kv.k_min)
        carried = np.where(cap_a > 0.0, score / kv.k_max, lift(c.s.reg_score, batched))
    else:
        score = performance_score(cap_a[:, None] * sig, total, rc.max_delay_substeps)["score"]
        cash = settle(cap_a, score, miles, cap_price, mileage_price, c.dt, rc.min_score)
        carried = None
    d.reg_energy_mw = lower(np.add.reduce(total, axis=1) * (1.0 / total.shape[1]), batched)
    led["regulation.score"], led["regulation.mileage_mw"] = lower(score, batched), lower(miles, batched)
    led["regulation.mileage_price"] = c.x[I_MILEAGE_PRICE]
    led["regulation.cash"] = lower(cash, batched)
    d.agc_last = lower(sig[:, -1], batched)
    d.reg_score = led["regulation.score"] if carried is None else lower(carried, batched)
    return responses


DEFAULT_PROVIDERS = ("battery",)
"""``markets.regulation.providers`` by default: the v0 rule (the per-provider ledger entries are not written)."""

_LABELS = {"battery": "battery", "ev": "EV fleet", "flex_load": "flexible load"}

SPEC = ProductSpec(
    name="regulation",
    label="regulation",
    need_column="reg_need_mw",
    price_column="reg_cap_price_per_mw",
    series=("reg_cap_price_per_mw", "reg_mileage_price_per_mw"),
    noisy_series=("reg_cap_price_per_mw", "reg_mileage_price_per_mw"),
    extra_entries=(
        Entry("regulation.cleared_mw", "power", "MW", "regulation: quantity cleared before the headroom cap"),
        Entry("regulation.capability_mw", "power", "MW", "regulation: the providers' symmetric headroom (summed)"),
        Entry("regulation.mileage_mw", "power", "MW", "regulation: mileage of the award's signal"),
        Entry("regulation.mileage_price", "price", "currency/MW", "regulation: mileage price"),
        Entry("regulation.score", "score", "1", "regulation: performance score (k_value scoring: K) of the interval"),
        *(
            entry
            for name in PROVIDERS
            for entry in (
                Entry(
                    f"regulation.{name}_mw",
                    "power",
                    "MW",
                    f"regulation: the {_LABELS[name]}'s share of the award (providers other than the default)",
                ),
                Entry(
                    f"regulation.{name}_response_mw",
                    "power",
                    "MW",
                    f"regulation: the {_LABELS[name]}'s mean response (providers other than the default)",
                ),
            )
        ),
    ),
    award=cap_award,
)
"""Regulation's declaration to the core (:mod:`vpp_gym.markets.spec`)."""
