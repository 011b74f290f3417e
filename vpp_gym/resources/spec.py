"""What a resource declares to the core: its action components, state fields, observation rows and series.

A resource module ends with one :class:`ResourceSpec` (``SPEC``) and is registered by one line in
:data:`vpp_gym.resources.REGISTRY`. The core builds the action layout, the observation layout, the
state's initial values and the observed forecast columns by iterating over the registered specs
(:mod:`vpp_gym.core.layout`), so these facts are written once, in the resource's own module.

Layout order. The registry's order is the physical order of the net injection (``P = pv + wind +
ev + battery + load + gas``, summed in that order). The v0 tasks list action components,
observation rows and forecast columns in other orders; each spec's ``*_rank`` keeps those v0
positions (lower first, ties in registry order), so that v0 trajectories are reproduced bit for
bit. A new resource may leave the ranks at their defaults (after every v0 resource).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vpp_gym.entries import Entry
from vpp_gym.ops import Array

if TYPE_CHECKING:
    from vpp_gym.core.dynamics import Dispatch, Interval

ObsRow = tuple[str, float, float, str]
"""``(name, low, high, meaning)`` of one observation component."""


@dataclass(frozen=True)
class StateField:
    """A field of :class:`vpp_gym.core.State` owned by a resource.

    Attributes:
        name: field name (with its unit, e.g. ``e_bat_mwh``).
        initial: the value at the start of an episode, from the resource's params.
    """

    name: str
    initial: Callable[[Any], float]


@dataclass(frozen=True)
class ResourceSpec:
    """A resource's declaration (see the module docstring).

    Attributes:
        name: its section under ``resources`` in the scenario config (``cfg.resources.<name>``).
        actions: the action components it adds, given its params: ``(name, decoding)`` pairs.
        setpoint: its step in :func:`~vpp_gym.core.dynamics.base_setpoints`: decode its action
            components, project them onto its feasible range, write its ledger entries and its next
            state (``d.state[field]``); a resource without an ancillary role also adds its
            injection, baseline and costs here.
        inject: its step (None: none) in :func:`~vpp_gym.core.dynamics.net_injection`, after reserve
            deployment and AGC following (the battery, the load and the gas unit add their final
            injection and their costs there). Both steps run in registry order, which is the
            order of the net injection sum.
        reg_headroom: if it can follow the AGC signal (``markets.regulation.providers``): its regulation
            headroom ``(up, down)`` (MW, either may be negative when the setpoint lies outside) around its
            base setpoint of the interval, given ``(interval, dispatch, its params)``.
        reg_follow: how its regulation response ``r`` (``(B, S)`` MW at the AGC sub-steps, inside its
            headroom) acts on it, given ``(interval, dispatch, its params, r)``; the battery's is
            :func:`~vpp_gym.core.dynamics.follow_agc` itself (None).
        ledger: the ledger entries it writes (:mod:`vpp_gym.ledger` collects them).
        state: the state fields it owns.
        obs_rows: the observation rows it adds from the state, given ``(core params, its params)``.
        features: the values of those rows, given ``(core params, its params, state, xp)``.
        series: the exogenous columns whose forecasts it adds to the observation.
        calendar: calendar rows it adds after the common ones (``(name, low, high, meaning)``).
        calendar_values: their values given ``(core params, its params, step index array)``.
        action_rank, obs_rank, series_rank: v0 positions in each layout (see the module docstring).
    """

    name: str
    actions: Callable[[Any], tuple[tuple[str, str], ...]]
    setpoint: Callable[[Interval, Dispatch, Any], None]
    inject: Callable[[Interval, Dispatch, Any], None] | None = None
    reg_headroom: Callable[[Interval, Dispatch, Any], tuple[Array, Array]] | None = None
    reg_follow: Callable[[Interval, Dispatch, Any, Any], None] | None = None
    ledger: tuple[Entry, ...] = ()
    state: tuple[StateField, ...] = ()
    obs_rows: Callable[[Any, Any], tuple[ObsRow, ...]] = lambda p, prm: ()
    features: Callable[[Any, Any, Any, Any], list[Array]] = lambda p, prm, s, xp: []
    series: tuple[str, ...] = ()
    calendar: tuple[ObsRow, ...] = ()
    calendar_values: Callable[[Any, Any, Any], list[Any]] = lambda p, prm, t_idx: []
    action_rank: int = 100
    obs_rank: int = 100
    series_rank: int = 100

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickle by reference to the registry (the declaration holds functions, which do not pickle)."""
        return registered, (self.name,)

    def params(self, cfg: Any) -> Any:
        """This resource's params in a scenario config (None when the scenario does not have it)."""
        return getattr(cfg.resources, self.name)


def registered(name: str) -> ResourceSpec:
    """The registered spec of resource ``name`` (:data:`vpp_gym.resources.REGISTRY`)."""
    from vpp_gym.resources import REGISTRY  # the registry imports every resource module, which import this one

    for spec in REGISTRY:
        if spec.name == name:
            return spec
    raise KeyError(f"no registered resource {name!r}; registered: {', '.join(s.name for s in REGISTRY)}")


def power_entries(name: str, label: str, available: bool = False, owner: str | None = None) -> tuple[Entry, ...]:
    """The ``<name>.requested_mw`` and ``<name>.applied_mw`` entries of a setpoint (and ``available_mw``)."""
    out = [
        Entry(f"{name}.requested_mw", "power", "MW", f"{label}: setpoint decoded from the action", owner=owner or name),
        Entry(
            f"{name}.applied_mw",
            "power",
            "MW",
            f"{label}: setpoint after projection onto the feasible range",
            label=label,
            owner=owner or name,
        ),
    ]
    if available:
        out.append(
            Entry(
                f"{name}.available_mw",
                "power",
                "MW",
                f"{label}: output available before curtailment",
                owner=owner or name,
            )
        )
    return tuple(out)
