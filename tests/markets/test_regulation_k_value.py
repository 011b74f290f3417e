"""The K value of China's regulation markets (``markets.regulation.scoring: k_value``), worked by hand.

One recorded interval (6 one-minute sub-steps, award C = 2 MW, allowed delay D = 2 sub-steps):

    signal     s   = [0, 0.5, 1,   1, 0.5, 0]
    requested  C s = [0, 1,   2,   2, 1,   0]   MW
    response   x   = [0, 0,   1, 1.8, 2,   1]   MW  (one sub-step late, 0.2 MW short at its peak)

k2: the response's window shifted by one sub-step, [0, 1, 1.8, 2], correlates best with the request's
window [0, 1, 2, 2], so lag* = 1 and k2 = 1 - 1/2 = 0.5.
k3: the aligned error is (0 + 0 + 0.2 + 0) / 4 = 0.05 MW; allowed 0.1 x 2 = 0.2 MW; k3 = 1 - 0.25 = 0.75.
k1: the response moves |0-0|, 1, 0.8, 0.2, 1 MW: 3 MW in the 4 minutes it moves, 0.75 MW/min; the
standard rate 0.25 x 2 = 0.5 MW/min; k1 = 1.5.
Guangdong (weights 0.5 / 0.25 / 0.25): K = 0.75 + 0.125 + 0.1875 = 1.0625.
Shanxi (product): K = 1.5 x 0.5 x 0.75 = 0.5625.
"""

from __future__ import annotations

import numpy as np
import pytest

from vpp_gym.config import ScenarioConfig, build_config
from vpp_gym.markets.clearing import clear_transaction
from vpp_gym.markets.regulation import KValueConfig, k_components, k_value, ranking_k, ranking_price, settle_k
from vpp_gym.validation import ConfigError, from_mapping

SIGNAL = np.array([[0.0, 0.5, 1.0, 1.0, 0.5, 0.0]])
RESPONSE = np.array([[0.0, 0.0, 1.0, 1.8, 2.0, 1.0]])
CFG = KValueConfig(standard_rate_share_per_min=0.25)


@pytest.mark.parametrize(("formula", "k"), [("guangdong", 1.0625), ("shanxi", 0.5625)])
def test_k_value_from_a_recorded_response(formula: str, k: float) -> None:
    cfg = KValueConfig(standard_rate_share_per_min=0.25, formula=formula)
    got = k_components(2.0 * SIGNAL, RESPONSE, 2.0, 1.0, 2, cfg)
    assert got["k1"] == pytest.approx([1.5], abs=1e-12)
    assert got["k2"] == pytest.approx([0.5], abs=1e-12)
    assert got["k3"] == pytest.approx([0.75], abs=1e-12)
    assert got["k"] == pytest.approx([k], abs=1e-12)


def test_exact_tracking_caps_k1_and_k() -> None:
    # Exact tracking of the same signal: k2 = k3 = 1; the rate 0.75 MW/min against a standard of
    # 0.05 x 2 = 0.1 MW/min gives 7.5, capped at k1_max = 5; K = 0.5 x 5 + 0.25 + 0.25 = 3 -> k_max = 2.
    cfg = KValueConfig(standard_rate_share_per_min=0.05)
    req = 2.0 * SIGNAL
    got = k_components(req, req, 2.0, 1.0, 2, cfg)
    assert (got["k1"][0], got["k2"][0], got["k3"][0], got["k"][0]) == (5.0, 1.0, 1.0, 2.0)
    assert k_value(5.0, 1.0, 1.0, KValueConfig(formula="shanxi", k_max=4.0)) == pytest.approx(4.0)
    # K does not depend on the award when the response tracks exactly (what the oracle relies on)
    unit = k_components(SIGNAL, SIGNAL, 1.0, 1.0, 2, CFG)["k"]
    assert k_components(3.7 * SIGNAL, 3.7 * SIGNAL, 3.7, 1.0, 2, CFG)["k"] == pytest.approx(unit, rel=1e-12)


def test_degenerate_responses() -> None:
    zero = np.zeros((1, 6))
    none = k_components(zero, zero, 0.0, 1.0, 2, CFG)  # no award: nothing to follow, nothing wrong
    assert [none[k][0] for k in ("k1", "k2", "k3")] == [1.0, 1.0, 1.0]
    idle = k_components(2.0 * SIGNAL, zero, 2.0, 1.0, 2, CFG)  # the request moves, the response does not
    assert idle["k1"][0] == 0.0 and idle["k2"][0] == 0.0
    assert idle["k3"][0] == pytest.approx(0.0)  # mean error 1.25 MW against 0.2 MW allowed: clipped at 0
    assert all(np.isfinite(v).all() for v in idle.values())


def test_mileage_is_paid_times_k_and_nothing_below_the_minimum() -> None:
    # capacity 2 MW x 12 per MW h x 0.25 h = 6; mileage 3 MW x 8 per MW x K
    pay = settle_k(2.0, np.array([1.0625, 0.5, 0.49]), 3.0, 12.0, 8.0, 0.25, k_min=0.5)
    assert pay == pytest.approx([6.0 + 24.0 * 1.0625, 6.0 + 12.0, 0.0])


def test_offers_are_ranked_by_price_over_k() -> None:
    # Need 2 MW; competitors (K = 1): 1 MW at 10 and 2 MW at 14. The VPP offers 2 MW at 18.
    stack_mw, stack_p = np.array([1.0, 2.0]), np.array([10.0, 14.0])
    # ranked as offered (K = 1): 18 is the dearest, not accepted; 1 MW at 10 and 1 MW at 14 clear at 14
    acc, price = clear_transaction(2.0, 18.0, stack_mw, stack_p, 2.0, 60.0, 12.0)
    assert (float(acc), float(price)) == (0.0, 14.0)
    # with K = 2 its ranking price is 9, the cheapest: it fills the need alone at its ranking price
    rank = ranking_price(18.0, ranking_k(1.0, KValueConfig()))  # reg_score 1 -> K = k_max = 2
    assert rank == pytest.approx(9.0)
    acc, price = clear_transaction(2.0, rank, stack_mw, stack_p, 2.0, 60.0, 12.0)
    assert (float(acc), float(price)) == (2.0, 9.0)
    # K = 1.5 (ranking price 12): the 1 MW at 10 first, then the VPP's 1 MW, the marginal price is 12
    acc, price = clear_transaction(2.0, ranking_price(18.0, 1.5), stack_mw, stack_p, 2.0, 60.0, 12.0)
    assert (float(acc), float(price)) == (1.0, 12.0)
    # no K measured yet (reg_score 0): ranked as the standard unit, K = 1
    assert ranking_k(0.0, KValueConfig()) == 1.0


@pytest.mark.parametrize(
    ("k_value", "pattern"),
    [
        ({"formula": "beijing"}, r"markets\.regulation\.k_value\.formula: got 'beijing'"),
        ({"weights": [0.5, 0.5, 0.5]}, r"markets\.regulation\.k_value\.weights: .*sum to 1"),
        ({"k_min": 3.0}, r"markets\.regulation\.k_value\.k_min: got 3"),
        ({"k_mn": 0.3}, r"markets\.regulation\.k_value: unknown key 'k_mn'"),
    ],
)
def test_bad_k_value_config_names_the_key(k_value: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        build_config(None, from_mapping(ScenarioConfig, {"markets": {"regulation": {"k_value": k_value}}}))


def test_bad_scoring_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"markets\.regulation\.scoring: got 'k'"):
        build_config(None, from_mapping(ScenarioConfig, {"markets": {"regulation": {"scoring": "k"}}}))
