"""What the oracle models: :func:`check_scope` (refuses the scenarios outside its model, by name)."""

from __future__ import annotations

from agents.oracle.blocks import MODELLED_PRODUCTS, MODELLED_RESOURCES
from agents.oracle.stacks import stacked_markets
from vpp_gym.core import CoreParams


class OracleScopeError(NotImplementedError):
    """The scenario uses a market feature the oracle does not model yet."""


def check_scope(p: CoreParams, knows_stacks: bool = True, knows_dr_baseline: bool | None = None) -> None:
    """Raise :class:`OracleScopeError` for a scenario outside the oracle's model.

    Args:
        p: the simulator's parameters.
        knows_stacks: whether the caller will pass the competitor stacks (the oracle does; MPC, which plans
            from what the agent sees, does not).
        knows_dr_baseline: whether the caller will pass the demand-response similar-days baseline (a last
            column of ``exo``); default ``knows_stacks``. The oracle does; MPC does on the day-ahead
            timeline, where the baseline is announced with the D-1 invitation
            (:mod:`vpp_gym.core.announcement`), and only for the announced days.
    """
    unknown = [spec.name for spec, _prm in p.resources if spec.name not in MODELLED_RESOURCES]
    unknown += [name for name in p.open_products if name not in MODELLED_PRODUCTS]
    if unknown:
        raise OracleScopeError(
            f"the oracle has no block for {', '.join(unknown)}: add agents/oracle/<name>.py and register it in "
            "agents/oracle/blocks.py (CONTRIBUTING.md)"
        )
    missing = []
    mk = p.cfg.markets
    stacks = stacked_markets(p)
    if stacks and not knows_stacks:
        raise OracleScopeError(
            f"competitor stacks (price-maker clearing) in {', '.join(stacks)}: only the "
            "perfect-foresight oracle is given the competitors' offers, and planning "
            "without them is not modelled"
        )
    dr = mk.demand_response
    if knows_dr_baseline is None:
        knows_dr_baseline = knows_stacks
    if dr is not None and dr.baseline == "similar_days" and not knows_dr_baseline:
        raise OracleScopeError(
            "markets.demand_response.baseline: similar_days: the baseline is observed only once announced with "
            "the D-1 invitation, on the day-ahead timeline (markets.energy.timeline: day_ahead; MPC reads it "
            "there); otherwise only the perfect-foresight oracle is given the episode's baseline "
            "(EpisodeData.dr_baseline_mw), and planning without it is not modelled"
        )
    reg = mk.regulation
    if reg is not None and reg.scoring == "k_value" and "regulation" in stacks:
        missing.append(
            "a regulation offer ranked at price / K (markets.regulation.scoring: k_value) against a competitor "
            "stack (set markets.regulation.competitors.n_offers: 0, or scoring: pjm)"
        )
    if reg is not None and (reg.delay_substeps > 0 or reg.ramp_mw_per_substep is not None):
        missing.append("a regulation response delay or ramp limit (imperfect tracking)")
    if reg is not None and any(spec.name != "battery" for spec, _prm in p.reg_providers):
        missing.append("regulation from the EV fleet or the flexible load (markets.regulation.providers)")
    if missing:
        raise OracleScopeError("the oracle does not model " + "; ".join(missing) + " yet")
