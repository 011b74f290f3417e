"""The native vector env against single envs with competitor stacks of 8 offers.

``vpp_gym.vector`` promises that sub-env ``i`` reproduces ``make(id).reset(seed=s + i)`` bit for bit.
Under ``configs/markets/autonomous.yaml`` the energy stack has 8 competitor offers. Until v1,
:func:`vpp_gym.markets.clearing.clear_transaction` summed them with ``np.sum(..., axis=0)`` over an
``(M, n)`` array: for ``n = 1`` (a single env) NumPy summed the 8 contiguous values pairwise, for
``n = 3`` row by row, so a partially accepted offer could differ in the last bit (``energy_da.
quantity_mwh`` 0.18480626997783833 in the vector env, 0.18480626997783922 alone). The clearing now sums
in merit order, one offer after the other, whatever the batch.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from vpp_gym.config import packaged_config
from vpp_gym.markets.clearing import clear_transaction


def test_clear_transaction_of_a_row_does_not_depend_on_the_batch() -> None:
    rng = np.random.default_rng(0)
    m, n, need = 8, 3, np.full(3, 20.0)
    for _ in range(200):
        q, p = rng.uniform(0.0, 5.0, (n, m)), rng.uniform(0.0, 600.0, (n, m))
        offer, price = rng.uniform(0.0, 6.0, n), rng.uniform(0.0, 600.0, n)
        ref = np.full(n, 300.0)
        acc, cleared = clear_transaction(offer, price, q, p, need, 1500.0, ref)
        for i in range(n):
            row = slice(i, i + 1)
            acc_i, cleared_i = clear_transaction(offer[row], price[row], q[row], p[row], need[row], 1500.0, ref[row])
            assert (acc_i[0], cleared_i[0]) == (acc[i], cleared[i])


@pytest.mark.parametrize("env_id", ["vpp_gym/Joint-v0", "vpp_gym/Joint-v1"])
def test_vector_env_matches_single_envs_under_the_autonomous_preset(env_id: str) -> None:
    n, seed = 3, 21
    config = str(packaged_config("markets/autonomous.yaml"))
    vec = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", config=config)
    singles = [gym.make(env_id, config=config) for _ in range(n)]
    vec.reset(seed=seed)
    for i, e in enumerate(singles):
        e.reset(seed=seed + i)
    rng = np.random.default_rng(5)
    for k in range(vec.unwrapped.params.steps):
        a = rng.uniform(-1.0, 1.0, (n, len(vec.unwrapped.action_names)))
        obs, reward, _term, _trunc, info = vec.step(a)
        for i, e in enumerate(singles):
            o, r, *_, led = e.step(a[i])
            assert obs[i].tobytes() == o.tobytes(), (k, i)
            assert info["energy_da"]["quantity_mwh"][i] == led["energy_da"]["quantity_mwh"], (k, i)
            assert reward[i] == r, (k, i)
