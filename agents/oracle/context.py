"""What every block of the oracle's model sees: the inputs of one build, the objective and the variables so far.

A block is a function ``block(m: Model, ctx: OracleContext) -> Record`` that adds the variables and the
named constraint families of one resource or market to ``m`` and returns their indices as a frozen
record; the blocks built before it are on ``ctx.vars``. Its ``decode(ctx, record, x, draft)`` writes
its part of the plan (env actions and setpoints) from a solution ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from agents.lp import Model
from vpp_gym import core
from vpp_gym.config import ResourcesConfig
from vpp_gym.core import CoreParams

if TYPE_CHECKING:
    from agents.oracle.battery import BatteryVars
    from agents.oracle.carbon import CarbonVars
    from agents.oracle.day_ahead import DayAheadVars, DayAheadView
    from agents.oracle.demand_response import DemandResponseVars
    from agents.oracle.ev import EvVars
    from agents.oracle.flex_load import FlexLoadVars
    from agents.oracle.gas import GasVars
    from agents.oracle.grid import GridVars, ImportVars
    from agents.oracle.products import ProductVars
    from agents.oracle.renewable import RenewableVars
    from agents.oracle.reserve import ReserveVars

RecordT = TypeVar("RecordT")

SIMULTANEOUS_TOL_MW = 1e-7
"""A storage plan with both flows above this in one interval charges and discharges at once (not replayable)."""


@dataclass
class Plan:
    """An optimal plan, or (``optimal`` False) the best one found within the time limit.

    Attributes:
        actions: env actions in ``[-1, 1]``, one row per step: ``(T, A)`` on the hour-ahead timeline;
            on the day-ahead timeline one row per step from the state's step ``k`` to the episode's end
            (bid and dispatch steps; the steps of intervals beyond the plan are passive).
        profit: the plan's objective (the env's profit summed over the episode, currency).
        setpoints: the plan's MW values by name (``"battery"``, ``"net"``, ...), ``(T,)`` each (per interval).
        mip: whether binaries were needed.
        optimal: whether the plan is proven optimal (to the solver's relative gap, 1e-9).
        gap: ``(bound - profit) / max(|profit|, 1)`` with ``bound`` a proven upper bound on the
            optimal profit: 0 when optimal, ``inf`` when the time limit stopped the search before any
            bound (e.g. over the carbon bands).
    """

    actions: np.ndarray
    profit: float
    setpoints: dict[str, np.ndarray]
    mip: bool
    optimal: bool = True
    gap: float = 0.0


@dataclass
class Objective:
    """The profit, maximised: linear terms ``sum coef * x[idx]`` plus a constant (the model minimises its negative)."""

    terms: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    constant: float = 0.0
    ties: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def gain(self, idx: np.ndarray, coef: np.ndarray | float) -> None:
        """Add ``coef * x[idx]`` (per variable, broadcast) to the profit."""
        self.terms.append((idx, np.broadcast_to(np.asarray(coef, dtype=float), idx.shape)))

    def tie_break(self, idx: np.ndarray, coef: np.ndarray | float) -> None:
        """Add ``coef * x[idx]`` to the objective solved but not to the profit reported (:meth:`untied`): a
        tiny preference among plans of equal profit."""
        self.gain(idx, coef)
        self.ties.append((idx, np.broadcast_to(np.asarray(coef, dtype=float), idx.shape)))

    def untied(self, x: np.ndarray) -> float:
        """What the tie-breaks added to the objective at the solution ``x`` (subtract it from the profit)."""
        return float(sum(np.dot(coef, x[idx]) for idx, coef in self.ties))

    def apply(self, m: Model) -> None:
        """Write the terms into the model's costs (in the order they were added)."""
        for idx, coef in self.terms:
            m.add_cost(idx, -coef)


@dataclass
class OracleVars:
    """The records of the blocks built so far (None: not built, or not in the scenario)."""

    grid: GridVars | None = None
    renewables: dict[str, RenewableVars] = field(default_factory=dict)
    products: dict[str, ProductVars] = field(default_factory=dict)
    reserve: ReserveVars | None = None
    battery: BatteryVars | None = None
    flex_load: FlexLoadVars | None = None
    ev: EvVars | None = None
    gas: GasVars | None = None
    imports: ImportVars | None = None
    demand_response: DemandResponseVars | None = None
    carbon: CarbonVars | None = None
    day_ahead: DayAheadVars | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def put(self, name: str, record: Any) -> None:
        """Keep a resource block's record: its typed field (``battery``, ...) or, for others, ``extra[name]``."""
        if name in self.__dataclass_fields__ and name != "extra":
            setattr(self, name, record)
        else:
            self.extra[name] = record

    def get(self, name: str) -> Any:
        """The record kept by :meth:`put` (None if the block was not built)."""
        if name in self.__dataclass_fields__ and name != "extra":
            return getattr(self, name)
        return self.extra.get(name)


@dataclass(frozen=True)
class OracleContext:
    """The inputs of one build of the oracle's model.

    Attributes:
        p: the simulator's parameters.
        exo: ``(T, K)`` exogenous values, columns in ``ALL_NAMES`` order.
        state: the scalar state at the start of the first interval.
        binary_modes: ``(T,)`` intervals whose storage gets a binary charge/discharge mode.
        sig: ``(T, S)`` AGC signal (zeros ``(T, 1)`` without regulation).
        stacks: competitor stacks of the price-maker markets, ``market -> (mw, price)``, ``(T, M)`` each.
        carbon_segment: the carbon band solved for (see :func:`agents.oracle.carbon.carbon_block`).
        tail: solve the upper bound on every surplus band from ``carbon_segment`` on.
        day_ahead: the day-ahead timeline: what is already awarded and which intraday gates are ahead
            (:class:`~agents.oracle.day_ahead.DayAheadView`); None on the hour-ahead timeline.
        terminal_price: the price the energy stored at the episode end is credited at (day-ahead
            timeline; 0 when the plan stops before the end or the rule is ``none``).
        objective: the profit being assembled.
        vars: the records of the blocks built so far.
    """

    p: CoreParams
    exo: np.ndarray
    state: core.State
    binary_modes: np.ndarray
    sig: np.ndarray
    stacks: dict[str, tuple[np.ndarray, np.ndarray]]
    carbon_segment: int | None = None
    tail: bool = False
    day_ahead: DayAheadView | None = None
    terminal_price: float = 0.0
    objective: Objective = field(default_factory=Objective)
    vars: OracleVars = field(default_factory=OracleVars)

    @property
    def T(self) -> int:  # noqa: N802  (the models' T)
        """Number of intervals."""
        return int(self.exo.shape[0])

    @property
    def dt(self) -> float:
        """Interval length (h)."""
        return self.p.dt_h

    @property
    def t0(self) -> int:
        """Episode step of the first interval."""
        return int(self.state.t)

    @property
    def resources(self) -> ResourcesConfig:
        """The VPP's resources (the simulator's ``*Params``)."""
        return self.p.cfg.resources

    @property
    def products(self) -> tuple[str, ...]:
        """The open ancillary products."""
        return self.p.open_products

    def gain(self, idx: np.ndarray, coef: np.ndarray | float) -> None:
        """Add ``coef * x[idx]`` to the profit."""
        self.objective.gain(idx, coef)

    def require(self, record: RecordT | None, what: str) -> RecordT:
        """``record``, which a block needs built before it (``what`` names it in the error)."""
        if record is None:
            raise RuntimeError(f"oracle model: the {what} block must be built first")
        return record


@dataclass
class PlanDraft:
    """The plan being decoded: env actions ``(T, A)`` (one row per interval) and setpoints by name, in the
    order written. On the day-ahead timeline an interval's row holds the actions of its bid step and of its
    dispatch step, which :func:`agents.oracle.day_ahead.step_actions` then splits into the steps."""

    actions: np.ndarray
    setpoints: dict[str, np.ndarray]


def storage_mode(m: Model, name: str, dis: np.ndarray, ch: np.ndarray, dis_max: float, ch_max: float) -> None:
    """Storage mode (binary ``mode``, one per entry): discharge only if ``mode = 1``, charge only if ``mode = 0``.

    ``<name>.mode_discharge``:  dis - dis_max * mode <= 0
    ``<name>.mode_charge``:     ch + ch_max * mode <= ch_max
    """
    mode = m.var(len(dis), 0.0, 1.0, integer=True)
    r1 = m.rows(len(dis), -np.inf, 0.0, name=f"{name}.mode_discharge")
    m.coef(r1, dis, 1.0)
    m.coef(r1, mode, -dis_max)
    r2 = m.rows(len(dis), -np.inf, ch_max, name=f"{name}.mode_charge")
    m.coef(r2, ch, 1.0)
    m.coef(r2, mode, ch_max)


def previous(m: Model, rows: np.ndarray, at: np.ndarray, var: np.ndarray, coef: float, initial: float) -> None:
    """Add ``coef * var[t-1]`` to the rows of intervals ``at``; at ``t = 0`` the value before the
    episode, ``initial``, is a constant moved to the right side."""
    first = at == 0
    m.coef(rows[~first], var[at[~first] - 1], coef)
    m.add_rhs(rows[first], -coef * initial)
