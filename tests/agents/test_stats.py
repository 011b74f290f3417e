"""The benchmark statistics (agents.stats) against figures worked out by hand on a small score table."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rliable")

from agents import stats

# scores of a policy: 2 seeds x 4 test days; of the reference (MPC): 1 run x 4 days
X = np.array([[0.1, 0.5, 0.9, 1.3], [0.2, 0.4, 0.8, -0.6]])
Y = np.array([[0.3, 0.5, 0.7, 1.0]])
PASSIVE = np.array([-100.0, 0.0, 50.0, 200.0, 7.0])  # day 4: the oracle gains nothing (left out)
GAIN = np.array([100.0, 200.0, 400.0, 50.0, 0.0])


def _rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for e in range(5):
        p, o = PASSIVE[e], PASSIVE[e] + GAIN[e]
        rows += [
            {"task": "t", "policy": "passive", "run": "-", "episode": e, "profit": p},
            {"task": "t", "policy": "oracle", "run": "-", "episode": e, "profit": o},
            {
                "task": "t",
                "policy": "mpc",
                "run": "-",
                "episode": e,
                "profit": p + (Y[0, e] if e < 4 else 9.0) * GAIN[e],
            },
        ]
        for s in range(2):
            score = X[s, e] if e < 4 else 0.3
            rows.append(
                {
                    "task": "t",
                    "policy": "ppo",
                    "run": f"s{s}",
                    "episode": e,
                    "profit": p + score * GAIN[e] - 3 * (e == 4),
                }
            )
    return rows


def test_scores_from_profits() -> None:
    (table,) = stats.score_tables(_rows()).values()
    assert table.days == [0, 1, 2, 3] and table.dropped == [4]
    np.testing.assert_allclose(table.scores["ppo"], X, rtol=0, atol=1e-12)
    np.testing.assert_allclose(table.scores["mpc"], Y, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(table.scores["passive"], np.zeros((1, 4)))
    np.testing.assert_array_equal(table.scores["oracle"], np.ones((1, 4)))
    assert table.runs["ppo"] == ["s0", "s1"]


def test_point_estimates_by_hand() -> None:
    (row_mpc, row_ppo) = stats.analyse(stats.score_tables(_rows()), reps=200)
    assert row_ppo["policy"] == "ppo" and (row_ppo["runs"], row_ppo["days"], row_ppo["dropped_days"]) == (2, 4, 1)
    # sorted: -0.6 0.1 0.2 0.4 | 0.5 0.8 0.9 1.3 -> the middle half 0.2 0.4 0.5 0.8
    assert row_ppo["iqm"] == pytest.approx((0.2 + 0.4 + 0.5 + 0.8) / 4, abs=1e-12)
    assert row_ppo["mean"] == pytest.approx(3.6 / 8, abs=1e-12)
    # 1 - mean(min(score, 1)): 1.3 counts as 1
    assert row_ppo["optimality_gap"] == pytest.approx(1 - 3.3 / 8, abs=1e-12)
    # per day P(X > Y), ties one half: 0, (0.5 + 0) / 2, 1, (1 + 0) / 2
    assert row_ppo["poi"] == pytest.approx((0 + 0.25 + 1 + 0.5) / 4, abs=1e-12)
    assert row_mpc["policy"] == "mpc" and row_mpc["poi"] is None
    assert row_mpc["iqm"] == pytest.approx(np.mean([0.5, 0.7]), abs=1e-12)  # 4 values: the middle two
    assert row_mpc["mean"] == pytest.approx(np.mean(Y), abs=1e-12)


def test_numpy_agrees_on_a_bigger_table() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0.6, 0.4, size=(5, 16))
    xs = np.sort(x.ravel())
    assert stats.iqm(x) == pytest.approx(xs[20:60].mean(), abs=1e-12)  # 80 scores: drop 20 at each end
    y = np.round(rng.normal(0.6, 0.4, size=(3, 16)), 1)
    x = np.round(x, 1)  # ties
    by_hand = np.mean([np.mean([(a > b) + 0.5 * (a == b) for a in x[:, d] for b in y[:, d]]) for d in range(16)])
    assert stats.probability_of_improvement(x, y) == pytest.approx(by_hand, abs=1e-12)
    assert stats._poi_vectorised(x[None], y[None])[0] == pytest.approx(by_hand, abs=1e-12)


def test_bootstrap_draws_days_then_runs_within_them() -> None:
    scores = np.array([[10.0 * d + r for d in range(6)] for r in range(3)])  # tens: the day; units: the run
    boot = stats.bootstrap(scores, 50, np.random.default_rng(0))
    assert boot.shape == (50, 3, 6)
    day = boot // 10
    assert (day == day[:, :1, :]).all()  # every run of a column comes from the same day
    assert len(np.unique(day)) == 6 and len(np.unique(boot % 10)) == 3
    one = stats.bootstrap(scores[:1], 50, np.random.default_rng(0))  # one run per day: only days resampled
    assert set(np.unique(one)) <= set(scores[0])


def test_intervals_are_seeded_and_bracket_the_estimates() -> None:
    tables = stats.score_tables(_rows())
    a = stats.analyse(tables, reps=300, seed=1)
    assert a == stats.analyse(tables, reps=300, seed=1)
    assert a != stats.analyse(tables, reps=300, seed=2)
    for row in a:
        for stat in ("iqm", "mean", "optimality_gap"):
            assert row[f"{stat}_low"] <= row[stat] <= row[f"{stat}_high"]
    ppo = a[1]
    assert 0.0 <= ppo["poi_low"] <= ppo["poi"] <= ppo["poi_high"] <= 1.0
    # a replicate's mean is a mean of scores of the table
    assert X.min() <= ppo["mean_low"] < ppo["mean_high"] <= X.max()


def test_constant_scores_have_a_point_interval() -> None:
    rows = [r for r in _rows() if r["policy"] != "ppo"]
    for r in rows:
        if r["policy"] == "mpc":
            r["profit"] = PASSIVE[int(r["episode"])] + 0.5 * GAIN[int(r["episode"])]
    (row,) = stats.analyse(stats.score_tables(rows), reps=100)
    assert (row["iqm_low"], row["iqm"], row["iqm_high"]) == pytest.approx((0.5, 0.5, 0.5))


def test_performance_profile_counts_scores_above_tau() -> None:
    tables = stats.score_tables(_rows())
    profiles = stats.performance_profiles(tables, taus=np.array([0.0, 0.45, 1.0]), reps=100)
    ppo = {r["tau"]: r["fraction"] for r in profiles if r["policy"] == "ppo"}
    assert ppo == {0.0: 7 / 8, 0.45: 4 / 8, 1.0: 1 / 8}
    mpc = {r["tau"]: r["fraction"] for r in profiles if r["policy"] == "mpc"}
    assert mpc == {0.0: 1.0, 0.45: 3 / 4, 1.0: 0.0}


def test_aggregate_over_tasks_and_report(tmp_path) -> None:
    rows = _rows() + [{**r, "task": "u"} for r in _rows()]
    tables = stats.score_tables(rows)
    agg = stats.aggregate_table(tables)
    assert agg is not None and agg.scores["ppo"].shape == (2, 8)
    tables[stats.ALL_TASKS] = agg
    result = stats.analyse(tables, reps=100)
    profiles = stats.performance_profiles(tables, reps=100)
    names = stats.write_report(tmp_path, result, profiles, reps=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    text = (tmp_path / "rliable.md").read_text()
    assert f"| t | ppo | 2 x 4 (1 dropped) | {stats.interval_text(result[1])} |" in text
