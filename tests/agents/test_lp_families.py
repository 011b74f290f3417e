"""Named constraint families of the LP builder: ``Model.rows(..., name=...)``, ``row_names``, ``family``."""

from __future__ import annotations

import numpy as np
import pytest

from agents.lp import Model


def test_rows_are_filed_under_their_family_in_order() -> None:
    m = Model()
    x = m.var(3)
    a = m.rows(3, 0.0, 1.0, name="storage.energy")
    m.rows(2)  # unnamed rows belong to no family
    b = m.rows(1, name="grid.balance")
    c = m.rows(2, name="storage.energy")  # a family may grow in several blocks
    m.coef(a, x, 1.0)
    assert m.row_names() == ["storage.energy", "grid.balance"]
    np.testing.assert_array_equal(m.family("storage.energy"), np.concatenate([a, c]))
    np.testing.assert_array_equal(m.family("grid.balance"), b)
    assert m.n_rows == 8
    with pytest.raises(KeyError, match=r"no constraint family 'gas\.ramp_up'"):
        m.family("gas.ramp_up")


def test_names_do_not_change_the_model() -> None:
    def build(named: bool) -> float:
        m = Model()
        x = m.var(2, 0.0, np.inf, cost=np.array([-1.0, -2.0]))
        r = m.rows(1, -np.inf, 4.0, name="cap" if named else None)
        m.coef(r, x, 1.0)
        return m.solve().objective

    assert build(True) == build(False) == -8.0
