"""One step of settlement worked by hand, straight through the pure core."""

from __future__ import annotations

import numpy as np
import pytest

from vpp_gym import core
from vpp_gym.config import ScenarioConfig
from vpp_gym.data.schema import COLUMN_NAMES
from vpp_gym.ops import SCALAR
from vpp_gym.validation import from_mapping


def _params() -> core.CoreParams:
    cfg = from_mapping(
        ScenarioConfig,
        {
            "resources": {"pv": {"p_max_mw": 4.0}, "battery": {}, "flex_load": {}},  # defaults: see below
            "markets": {"energy": {"da_lead_steps": 4, "position_max_mw": 6.0}, "carbon": {"price_per_t": 60.0}},
        },
    )
    # battery: e_max 4, 2/2 MW, eta 0.95/0.95, soc 0.1..0.9, 20 /MWh; flex: peak 3, curtail 0.1 @600,
    # shift 0.2 @10, window 4 h = 16 steps at 15 min.
    lo = dict.fromkeys(COLUMN_NAMES, 0.0)
    return core.CoreParams(cfg=cfg, price_ref_per_mwh=400.0, lo=lo, hi=dict.fromkeys(COLUMN_NAMES, 1.0))


def _x(**values: float) -> np.ndarray:
    row = np.zeros((1, len(COLUMN_NAMES)))
    for k, v in values.items():
        row[0, COLUMN_NAMES.index(k)] = v
    return row


def test_export_step_by_hand() -> None:
    p = _params()
    s = core.initial_state(p, 1)._replace(e_bat_mwh=np.array([2.0]), positions_mw=_cols([[1.0, 0.0, 0.0, 0.0]]))
    action = np.array([[0.5, 0.5, -1.0, 0.5, 0.25]])  # da, battery, pv_curtail, load_curtail, load_shift
    x = _x(price_da_per_mwh=300.0, price_rt_per_mwh=500.0, grid_ef_t_per_mwh=0.6, pv_cf=0.5, load_pu=0.8)
    s2, led = core.transition(p, s, action.T, x.T)
    # battery 0.5 * 2 = 1 MW discharge; e' = 2 - 0.25 * 1 / 0.95
    assert led["battery.applied_mw"][0] == pytest.approx(1.0)
    assert s2.e_bat_mwh[0] == pytest.approx(2.0 - 0.25 / 0.95, rel=1e-12)
    # load 0.8 * 3 = 2.4 MW; curtail 0.5 * 0.1 * 2.4 = 0.12; shift 0.25 * 0.2 * 2.4 = 0.12; consumes 2.16
    assert led["load.consumption_mw"][0] == pytest.approx(2.16)
    assert s2.backlog_mwh[0] == pytest.approx(0.12 * 0.25)
    # net = pv 2 + battery 1 - load 2.16 = 0.84 MW
    assert led["net_mw"][0] == pytest.approx(0.84)
    # day-ahead: 1 MW held * 0.25 h * 300 = 75; real-time: (0.84 - 1) * 0.25 * 500 = -20
    assert led["energy_da.cash"][0] == pytest.approx(75.0)
    assert led["energy_rt.quantity_mwh"][0] == pytest.approx(-0.04)
    assert led["energy_rt.cash"][0] == pytest.approx(-20.0)
    assert led["emissions.grid_t"][0] == 0.0 and led["carbon.cash"][0] == 0.0  # exporting: no import emissions
    # costs: degradation 1 * 0.25 * 20 = 5; curtailment 0.12 * 0.25 * 600 = 18; shift 0.12 * 0.25 * 10 = 0.3
    assert led["cost.degradation"][0] == pytest.approx(5.0)
    assert led["cost.curtailment"][0] == pytest.approx(18.0)
    assert led["cost.load_shift"][0] == pytest.approx(0.3)
    # profit = 75 - 20 - 5 - 18 - 0.3 = 31.7; reward = 1e-3 * profit
    assert led["profit"][0] == pytest.approx(31.7)
    assert led["reward"][0] == pytest.approx(0.0317)
    # the new commitment 0.5 * 6 = 3 MW joins the queue for interval t + 4
    np.testing.assert_allclose(np.stack(s2.positions_mw, axis=1), [[0.0, 0.0, 0.0, 3.0]])
    assert s2.t[0] == 1


def test_import_step_at_window_end_by_hand() -> None:
    p = _params()
    s = core.initial_state(p, 1)._replace(t=np.array([15]), e_bat_mwh=np.array([2.0]), backlog_mwh=np.array([0.03]))
    action = np.array([[0.0, -1.0, 0.0, 0.0, 1.0]])  # the shift request is overridden at the window end
    x = _x(price_da_per_mwh=200.0, price_rt_per_mwh=100.0, grid_ef_t_per_mwh=0.5, pv_cf=0.0, load_pu=1.0)
    s2, led = core.transition(p, s, action.T, x.T)
    # charge 2 MW: e' = 2 + 0.25 * 2 * 0.95 = 2.475
    assert s2.e_bat_mwh[0] == pytest.approx(2.475)
    # forced make-up of the 0.03 MWh backlog: s = -0.03 / 0.25 = -0.12 MW; consumption 3 + 0.12
    assert led["load_shift.requested_mw"][0] == pytest.approx(0.6)
    assert led["load_shift.applied_mw"][0] == pytest.approx(-0.12)
    assert s2.backlog_mwh[0] == 0.0
    # net = -2 - 3.12 = -5.12 MW, no position: RT cash = -5.12 * 0.25 * 100 = -128
    assert led["net_mw"][0] == pytest.approx(-5.12)
    assert led["energy_rt.cash"][0] == pytest.approx(-128.0)
    # grid emissions 5.12 * 0.25 * 0.5 = 0.64 t, at 60 /t = 38.4
    assert led["emissions.grid_t"][0] == pytest.approx(0.64)
    assert led["carbon.cash"][0] == pytest.approx(-38.4)
    # profit = -128 - 38.4 - degradation 2 * 0.25 * 20 - shift 0.12 * 0.25 * 10 = -176.7
    assert led["profit"][0] == pytest.approx(-176.7)
    assert led["penalty.shift_violation"][0] == 0.0


def _cols(rows: list[list[float]]) -> tuple[np.ndarray, ...]:
    return tuple(np.array(rows, dtype=float).T)


def test_batch_rows_equal_scalar_core_exactly() -> None:
    """A batch of two different rows gives exactly what the scalar core (single env) gives for each."""
    p = _params()
    rng = np.random.default_rng(0)
    s = core.initial_state(p, 2)._replace(
        e_bat_mwh=np.array([0.5, 3.5]), t=np.array([3, 15]), backlog_mwh=np.array([0.1, -0.05])
    )
    a = rng.uniform(-1, 1, (2, 5))
    x = np.vstack(
        [
            _x(price_da_per_mwh=50, price_rt_per_mwh=-20, pv_cf=0.9, load_pu=0.3, grid_ef_t_per_mwh=0.4),
            _x(price_da_per_mwh=900, price_rt_per_mwh=1500, pv_cf=0.0, load_pu=1.2, grid_ef_t_per_mwh=0.9),
        ]
    )
    s_batch, led_batch = core.transition(p, s, a.T, x.T)
    for i in range(2):
        s_i = s.row(i)
        s_one, led_one = core.transition(p, s_i, a[i].tolist(), x[i].tolist(), SCALAR)
        assert led_one.keys() == led_batch.keys()
        for key, v in led_one.items():
            assert v == led_batch[key][i], key
        assert s_one.t == s_batch.t[i]
        for f in core.VALUE_FIELDS:
            assert getattr(s_one, f) == getattr(s_batch, f)[i], f
        assert s_one.positions_mw == tuple(q[i] for q in s_batch.positions_mw)
