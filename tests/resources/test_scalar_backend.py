"""The two backends of the pure core give equal numbers: ``xp=numpy`` on arrays vs ``xp=SCALAR`` on floats.

Every resource ``apply`` is run once on a batch of random and edge-case rows with NumPy and once per
row on Python floats; the results must be equal with ``==`` (not approximately). The same holds for
a whole :func:`vpp_gym.core.transition` of a VPP with every resource. (``==`` treats ``-0.0`` and
``0.0`` as equal; the backends do differ in the sign of some zeros: Python's ``min``/``max`` return
the first of two equal arguments, ``np.minimum``/``np.maximum`` need not.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vpp_gym import core
from vpp_gym.config import build_config
from vpp_gym.data.schema import ALL_NAMES
from vpp_gym.ops import SCALAR
from vpp_gym.resources import battery, ev_fleet, flex_load, gas_unit, renewable
from vpp_gym.resources.battery import BatteryParams
from vpp_gym.resources.ev_fleet import EvFleetParams
from vpp_gym.resources.flex_load import FlexLoadParams
from vpp_gym.resources.gas_unit import GasUnitParams
from vpp_gym.resources.renewable import RenewableParams

N = 400
DTS = (0.25, 1.0, 1.0 / 12.0)


def _mix(rng: np.random.Generator, lo: float, hi: float, edges: Sequence[float], n: int = N) -> np.ndarray:
    """``n`` values: uniform in [lo, hi], with about a third replaced by the edge values."""
    x = rng.uniform(lo, hi, n)
    pick = rng.random(n) < 0.35
    x[pick] = rng.choice(np.asarray(edges, dtype=np.float64), pick.sum())
    return x


def _assert_rows_equal(
    fn: Callable[..., tuple[Any, ...]],
    batched: Sequence[Any],
    arrays: Sequence[np.ndarray],
    scalars: Sequence[Any] = (),
) -> None:
    """``fn(*arrays, xp=numpy)`` row ``i`` == ``fn(*(a[i] as float), xp=SCALAR)`` for every row and output."""
    out_np = fn(*batched, *arrays, *scalars, xp=np)
    n = len(arrays[0])
    for i in range(n):
        row = [a[i].item() for a in arrays]
        assert all(type(v) in (float, bool) for v in row)
        out_sc = fn(*batched, *row, *scalars, xp=SCALAR)
        for j, (a, s) in enumerate(zip(out_np, out_sc, strict=True)):
            a_i = np.broadcast_to(a, (n,))[i]
            assert a_i == s, f"output {j} of row {i}: numpy {a_i!r} != scalar {s!r}; inputs {row}"


def test_battery() -> None:
    rng = np.random.default_rng(0)
    for prm in (
        BatteryParams(),
        BatteryParams(
            e_max_mwh=3.0,
            p_charge_max_mw=1.3,
            p_discharge_max_mw=2.2,
            eta_charge=0.9,
            eta_discharge=0.8,
            soc_min=0.05,
            soc_max=0.95,
        ),
    ):
        for dt in DTS:
            e = _mix(rng, prm.e_min_mwh, prm.e_high_mwh, [prm.e_min_mwh, prm.e_high_mwh, prm.e_init_mwh])
            req = _mix(rng, -3.0, 3.0, [0.0, prm.p_discharge_max_mw, -prm.p_charge_max_mw, 5.0, -5.0])

            def fn(e_mwh: Any, p: Any, xp: Any, prm: BatteryParams = prm, dt: float = dt) -> Any:
                return (*battery.apply(prm, e_mwh, p, dt, xp), *battery.feasible_range(prm, e_mwh, dt, xp))

            _assert_rows_equal(fn, (), (e, req))


def test_renewable() -> None:
    rng = np.random.default_rng(1)
    for prm in (RenewableParams(p_max_mw=4.0, curtailable=True), RenewableParams(p_max_mw=2.5, curtailable=False)):
        cf = _mix(rng, 0.0, 1.0, [0.0, 1.0])
        req = _mix(rng, -1.0, 5.0, [0.0, 4.0, 2.5, -0.0])
        # the requests exactly at the available power
        req[:20] = prm.p_max_mw * cf[:20]

        def fn(c: Any, p: Any, xp: Any, prm: RenewableParams = prm) -> Any:
            return renewable.apply(prm, c, p, xp)

        _assert_rows_equal(fn, (), (cf, req))


def test_flex_load() -> None:
    rng = np.random.default_rng(2)
    for prm in (FlexLoadParams(), FlexLoadParams(peak_mw=5.0, curtail_share=0.3, shift_share=0.5)):
        for dt in DTS:
            base = prm.peak_mw * _mix(rng, 0.0, 1.5, [0.0, 1.0])
            backlog = _mix(rng, -2.0, 2.0, [0.0, 0.5, -0.5])
            c_req = _mix(rng, -1.0, 1.0, [0.0, prm.curtail_share * prm.peak_mw])
            s_req = _mix(rng, -2.0, 2.0, [0.0, prm.shift_share * prm.peak_mw, -prm.shift_share * prm.peak_mw])
            window_end = rng.random(N) < 0.5
            # forced make-up beyond the base load, exactly at the shift limit, and zero backlog at a window end
            backlog[:3], base[:3], window_end[:3] = [-3.0, -prm.shift_share * 1.2 * dt, 0.0], [1.0, 1.2, 1.0], True

            def fn(b: Any, L: Any, c: Any, s: Any, w: Any, xp: Any, prm: FlexLoadParams = prm, dt: float = dt) -> Any:
                return flex_load.apply(prm, b, L, c, s, w, dt, xp)

            _assert_rows_equal(fn, (), (backlog, base, c_req, s_req, window_end))


def test_ev_fleet() -> None:
    rng = np.random.default_rng(3)
    for prm in (
        EvFleetParams(),
        EvFleetParams(v2g=True),
        EvFleetParams(e_fleet_mwh=0.0, v2g=True),
        EvFleetParams(
            e_fleet_mwh=10.0, p_charge_max_mw=4.0, p_discharge_max_mw=3.0, v2g=True, eta_charge=0.85, eta_discharge=0.9
        ),
    ):
        for dt in DTS:
            need = _mix(rng, 0.0, prm.e_fleet_mwh, [0.0, prm.e_fleet_mwh])
            plugged = _mix(rng, 0.0, 1.0, [0.0, 1.0])
            arrival = _mix(rng, 0.0, 0.3, [0.0, 1.0])
            departure = _mix(rng, 0.0, 1.0, [0.0, 1.0])
            req = _mix(rng, -5.0, 5.0, [0.0, -prm.p_charge_max_mw, prm.p_discharge_max_mw])

            def fn(n: Any, s: Any, a: Any, d: Any, p: Any, xp: Any, prm: EvFleetParams = prm, dt: float = dt) -> Any:
                return (*ev_fleet.apply(prm, n, s, a, d, p, dt, xp), *ev_fleet.feasible_range(prm, n, s, a, dt, xp))

            _assert_rows_equal(fn, (), (need, plugged, arrival, departure, req))


def test_gas_unit() -> None:
    rng = np.random.default_rng(4)
    for prm in (
        GasUnitParams(),
        GasUnitParams(p_min_mw=1.0, p_max_mw=3.0, ramp_mw_per_h=2.4),
        GasUnitParams(p_min_mw=0.0, p_max_mw=1.0, ramp_mw_per_h=0.5),
    ):
        for dt in DTS:
            ramp = prm.ramp_mw_per_h * dt
            # off, at p_min, at p_max, exactly where shutdown just becomes (im)possible
            p_prev = _mix(
                rng,
                0.0,
                prm.p_max_mw,
                [
                    0.0,
                    0.0,
                    prm.p_min_mw,
                    prm.p_max_mw,
                    prm.p_min_mw + ramp,
                    prm.p_min_mw + ramp + 1e-5,
                    prm.p_min_mw + ramp - 1e-5,
                ],
            )
            p_prev = np.where((p_prev > 0) & (p_prev < prm.p_min_mw), prm.p_min_mw, p_prev)  # on means >= p_min
            # asks for off (below p_min / 2), exactly p_min / 2, start-ups, far outside the range
            req = _mix(
                rng,
                -0.5,
                prm.p_max_mw + 0.5,
                [0.0, 0.5 * prm.p_min_mw, prm.p_min_mw, prm.p_max_mw, 0.5 * prm.p_min_mw - 1e-9],
            )

            def fn(p0: Any, p: Any, xp: Any, prm: GasUnitParams = prm, dt: float = dt) -> Any:
                return (*gas_unit.apply(prm, p0, p, dt, xp), *gas_unit.feasible_range(prm, p0, dt, xp))

            _assert_rows_equal(fn, (), (p_prev, req))
            # the cases are not vacuous: starts, shutdowns and refused shutdowns all occur
            p, started = gas_unit.apply(prm, p_prev, req, dt)
            assert np.any(started == 1.0)
            assert np.any((p_prev > 0) & (p == 0.0))
            if prm.p_min_mw > 0:
                refused = p_prev > prm.p_min_mw + ramp + gas_unit.SHUTDOWN_TOL_MW
                assert np.any(refused & (req < 0.5 * prm.p_min_mw) & (p > 0))


def test_core_transition_row_by_row() -> None:
    resources = {
        "pv": {"p_max_mw": 4.0},
        "wind": {"p_max_mw": 3.0, "curtailable": False},
        "battery": {},
        "ev": {"v2g": True},
        "flex_load": {},
        "gas": {},
    }
    cfg, _ = build_config(
        config={
            "resources": resources,
            "markets": {
                "energy": {"imbalance_penalty_per_mwh": 15.0},
                "carbon": {
                    "pricing": "stepped",
                    "band_t": 0.5,
                    "free_allowance_t_per_mwh": 0.3,
                    "ccer_t_per_mwh": 0.5,
                    "gec_share": 0.3,
                    "gec_price_per_mwh": 30.0,
                },
            },
        }
    )
    lo = {"price_da_per_mwh": -100.0, "load_pu": 0.0}
    p = core.CoreParams(cfg=cfg, price_ref_per_mwh=300.0, lo=lo, hi={"load_pu": 1.5, "grid_ef_t_per_mwh": 1.0})
    rng = np.random.default_rng(5)
    n, A, K = N, len(p.action_names), len(ALL_NAMES)
    r = cfg.resources
    state = core.State(
        t=rng.integers(0, 96, n),
        e_bat_mwh=_mix(rng, r.battery.e_min_mwh, r.battery.e_high_mwh, [r.battery.e_min_mwh, r.battery.e_high_mwh]),
        backlog_mwh=_mix(rng, -0.3, 0.3, [0.0]),
        ev_need_mwh=_mix(rng, 0.0, r.ev.e_fleet_mwh, [0.0, r.ev.e_fleet_mwh]),
        gas_p_mw=np.where(rng.random(n) < 0.4, 0.0, rng.uniform(r.gas.p_min_mw, r.gas.p_max_mw, n)),
        emissions_t=rng.uniform(0.0, 5.0, n),
        direct_t=np.zeros(n),
        allowances_t=rng.uniform(0.0, 5.0, n),
        ccer_t=rng.uniform(0.0, 1.0, n),
        agc_last=np.zeros(n),
        reg_score=np.zeros(n),
        positions_mw=tuple(_mix(rng, -6.0, 6.0, [0.0, 6.0, -6.0]) for _ in range(p.lead)),
        offer_prices=tuple(np.zeros(n) for _ in range(p.lead)),
        k=np.zeros(n, dtype=np.int64),
        da_mw=(),
        da_price=(),
        id_mw=(),
        aw_mw=(),
        aw_price=(),
    )
    state = state._replace(t=np.where(np.arange(n) < 40, 15, state.t))  # last interval of a 4-h window
    actions = [_mix(rng, -1.0, 1.0, [-1.0, 0.0, 1.0]) for _ in range(A)]
    x = [
        _mix(rng, -100.0, 1500.0, [0.0]),
        _mix(rng, -100.0, 2000.0, [0.0]),
        rng.uniform(0.2, 1.0, n),
        _mix(rng, 0.0, 1.0, [0.0]),
        _mix(rng, 0.0, 1.0, [0.0, 1.0]),
        rng.uniform(0.2, 1.5, n),
        _mix(rng, 0.0, 1.0, [0.0, 1.0]),
        _mix(rng, 0.0, 0.1, [0.0]),
        _mix(rng, 0.0, 1.0, [0.0, 1.0]),
    ]
    x += [rng.uniform(0.0, 10.0, n) for _ in ALL_NAMES[len(x) :]]  # ancillary columns (no product is open)
    assert len(x) == K
    nxt, led = core.transition(p, state, actions, x, np)
    for i in range(n):
        s_i = state.row(i)
        nxt_i, led_i = core.transition(p, s_i, [float(a[i]) for a in actions], [float(v[i]) for v in x], SCALAR)
        assert set(led_i) == set(led)
        for key, value in led_i.items():
            assert np.broadcast_to(led[key], (n,))[i] == value, (i, key)
        assert nxt_i.t == nxt.t[i]
        for name in core.VALUE_FIELDS:
            assert getattr(nxt, name)[i] == getattr(nxt_i, name), (i, name)
        assert all(q[i] == q_i for q, q_i in zip(nxt.positions_mw, nxt_i.positions_mw, strict=True))
