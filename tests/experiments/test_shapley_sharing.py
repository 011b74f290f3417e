"""experiments/shapley_sharing.py: the aggregator's commission on games solved by hand (no oracle run)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from agents.shapley import shapley_values


@pytest.fixture(scope="module")
def sharing(experiment_script: Callable[[str], ModuleType]) -> ModuleType:
    return experiment_script("shapley_sharing")


def test_two_player_commission_solved_by_hand(sharing: ModuleType) -> None:
    # v(a) = 3, v(b) = -2 (a load), v(ab) = 10; commission 10 % of a positive profit, per coalition:
    # v_c(a) = 2.7, v_c(b) = -2, v_c(ab) = 9; the aggregator keeps 0.1 x 10 = 1
    # phi_a = (2.7 - 0) / 2 + (9 - (-2)) / 2 = 6.85, phi_b = (-2 - 0) / 2 + (9 - 2.7) / 2 = 2.15
    v = {frozenset("a"): 3.0, frozenset("b"): -2.0, frozenset("ab"): 10.0}
    fee, shares = sharing.commission_shares(["a", "b"], v, 0.1)
    assert fee == pytest.approx(1.0)
    assert shares == pytest.approx({"a": 6.85, "b": 2.15})
    assert fee + sum(shares.values()) == pytest.approx(10.0)
    # not (1 - c) x the plain values (7.5, 2.5) = (6.75, 2.25): b alone loses money and pays no commission,
    # so a, which turns b's loss into a profit, keeps more than 90 % of its value, and b less
    assert shapley_values(["a", "b"], v) == pytest.approx({"a": 7.5, "b": 2.5})
    assert shares["a"] > 0.9 * 7.5 and shares["b"] < 0.9 * 2.5


def test_three_player_commission_without_losses_is_proportional(sharing: ModuleType) -> None:
    # no coalition loses money: the shares are (1 - c) x the Shapley values; c is symmetric in a and b
    v = {
        frozenset("a"): 2.0,
        frozenset("b"): 2.0,
        frozenset("c"): 0.0,
        frozenset("ab"): 8.0,
        frozenset("ac"): 2.0,
        frozenset("bc"): 2.0,
        frozenset("abc"): 8.0,
    }
    fee, shares = sharing.commission_shares(["a", "b", "c"], v, 0.25)
    assert fee == pytest.approx(2.0)
    assert shares == pytest.approx({"a": 3.0, "b": 3.0, "c": 0.0})


def test_no_commission_on_a_loss_and_none_at_zero(sharing: ModuleType) -> None:
    v = {frozenset("a"): -1.0, frozenset("b"): -5.0, frozenset("ab"): -4.0}
    fee, shares = sharing.commission_shares(["a", "b"], v, 0.2)
    assert fee == 0.0
    assert shares == pytest.approx(shapley_values(["a", "b"], v))  # no coalition profits: nothing changes
    v = {frozenset("a"): 3.0, frozenset("b"): -2.0, frozenset("ab"): 10.0}
    assert sharing.commission_shares(["a", "b"], v, 0.0) == (0.0, pytest.approx(shapley_values(["a", "b"], v)))
    with pytest.raises(ValueError, match="commission"):
        sharing.commission_shares(["a", "b"], v, 1.0)


def test_coalition_keys_round_trip(sharing: ModuleType) -> None:
    saved = {"(none)": 0.0, "pv": 1.0, "battery+pv": 3.0}
    assert sharing._coalitions(saved) == {frozenset(): 0.0, frozenset({"pv"}): 1.0, frozenset({"battery", "pv"}): 3.0}


def test_default_scenarios_are_the_v1_tasks(sharing: ModuleType) -> None:
    assert all(item.endswith("-v1") for item in sharing.DEFAULT)
    assert sharing._version("vpp_gym/Joint-v0") == "v0"
    assert sharing._version("configs/scenarios/green_park.yaml") == "v1"
