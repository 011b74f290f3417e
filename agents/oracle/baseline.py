"""The passive baseline that demand response and peak regulation measure a response against."""

from __future__ import annotations

import numpy as np

from agents.oracle.context import OracleContext
from agents.oracle.flex_load import base_load_mw
from agents.oracle.renewable import RENEWABLES, available_mw


def passive_baseline(ctx: OracleContext) -> np.ndarray:
    """The net injection of a passive VPP: renewables at their available power minus the base load."""
    baseline = np.zeros(ctx.T)
    for name, _ in RENEWABLES:
        if getattr(ctx.resources, name) is not None:
            baseline += available_mw(ctx, name)
    if ctx.resources.flex_load is not None:
        baseline -= base_load_mw(ctx)
    return baseline
