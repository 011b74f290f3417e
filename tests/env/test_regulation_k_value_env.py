"""Regulation scored and paid with the K value (``markets.regulation.scoring: k_value``) in the env: the
ledger identity, the pay rule and the ranking of transaction offers by price / K of the past."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

import vpp_gym  # noqa: F401  (registers the task ids)
from vpp_gym import ledger

PRESETS = Path(__file__).resolve().parents[2] / "configs" / "markets"
K_VALUE = {"markets.regulation.scoring": "k_value"}
DAY_AHEAD = {
    "markets.energy.timeline": "day_ahead",
    "markets.energy.contract": {"quantity_mw": 1.0, "price_per_mwh": 400.0},
}
RUNS = [
    ("vpp_gym/Regulation-v0", None, {}),
    ("vpp_gym/Regulation-v0", None, {"markets.regulation.k_value.formula": "shanxi"}),
    ("vpp_gym/Regulation-v0", None, {"markets.regulation.delay_substeps": 2}),
    ("vpp_gym/Regulation-v0", None, DAY_AHEAD),
    ("vpp_gym/Joint-v0", None, {}),
    ("vpp_gym/Joint-v0", "transaction", {}),
    ("vpp_gym/Joint-v0", "autonomous", {}),
    ("vpp_gym/Joint-v0", "autonomous", DAY_AHEAD),
]


def _flat(info: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in info.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _episode(env_id: str, preset: str | None, extra: dict, seed: int = 3) -> tuple[gym.Env, list[dict]]:
    kwargs: dict = {"overrides": {**K_VALUE, **extra}}
    if preset is not None:
        kwargs["config"] = str(PRESETS / f"{preset}.yaml")
    env = gym.make(env_id, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    steps, done = [], False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        flat = _flat(info)
        assert flat["reward"] == reward
        steps.append(flat)
        done = terminated or truncated
    return env, steps


@pytest.mark.parametrize(("env_id", "preset", "extra"), RUNS, ids=lambda r: str(r) if not isinstance(r, dict) else "")
def test_ledger_identity_and_k_pay(env_id: str, preset: str | None, extra: dict) -> None:
    env, steps = _episode(env_id, preset, extra)
    reg = env.unwrapped.config.markets.regulation
    kv = reg.k_value
    assert set(steps[0]) - set(ledger.BY_KEY) - {"t", "bidding"} == set()
    paid = 0
    for s in steps:
        parts = [s[e.key] * e.sign for e in ledger.profit_terms() if e.key in s]
        assert s["profit"] == pytest.approx(sum(parts), rel=1e-12, abs=1e-9), s["t"]
        k = s["regulation.score"]
        assert 0.0 <= k <= kv.k_max + 1e-12
        if s.get("bidding", 0.0) or s["regulation.accepted_mw"] <= 0.0:
            continue
        cap = s["regulation.accepted_mw"] * s["regulation.price"] * env.unwrapped.params.dt_h
        want = cap + s["regulation.mileage_mw"] * s["regulation.mileage_price"] * k if k >= kv.k_min else 0.0
        assert s["regulation.cash"] == pytest.approx(want, rel=1e-12, abs=1e-9), s["t"]
        paid += k >= kv.k_min
    assert paid > 0


def test_transaction_offer_is_ranked_with_the_last_followed_k() -> None:
    """Price-taker (no stack): accepted iff ``offer / K_rank <= published price``, with ``K_rank`` the K of
    the last interval with an award (1 before any): information of the past only."""
    _, steps = _episode("vpp_gym/Regulation-v0", "transaction", {}, seed=5)
    k_rank, ranked_above = 1.0, 0
    for s in steps:
        if s["regulation.offer_mw"] > 1e-6:
            rank = s["regulation.offer_price"] / k_rank
            assert (s["regulation.cleared_mw"] > 0.0) == (rank <= s["regulation.price"] + 1e-9), s["t"]
            ranked_above += s["regulation.offer_price"] > s["regulation.price"] >= rank
        if s["regulation.accepted_mw"] > 0.0:
            k_rank = s["regulation.score"] if s["regulation.score"] > 0.0 else 1.0
    assert ranked_above > 0  # some offers above the price were accepted only thanks to K > 1
