"""Ancillary products in the oracle: accepted capacity, regulation payments, and the offers that obtain them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.lp import Model
from agents.oracle.context import OracleContext, PlanDraft
from agents.oracle.stacks import Segments, segments_block
from vpp_gym.core import I_REG_CAP_P, I_REG_MIL_P, PRODUCT_COLUMNS
from vpp_gym.markets.clearing import clear_invitation
from vpp_gym.markets.products import ProductMarketConfig
from vpp_gym.markets.regulation import k_components


@dataclass(frozen=True)
class ProductVars:
    """Accepted capacity ``A[t]`` of one product, and its price-maker segments (against a stack; else None)."""

    accepted: np.ndarray
    segments: Segments | None = None


def product_config(ctx: OracleContext, name: str) -> ProductMarketConfig:
    """The config of an open product."""
    cfg = ctx.p.product(name)
    assert cfg is not None
    return cfg


def product_need(ctx: OracleContext, name: str) -> np.ndarray:
    """The product's need per interval (MW, absolute)."""
    return np.abs(ctx.exo[:, PRODUCT_COLUMNS[name][0]])


def product_block(m: Model, ctx: OracleContext, name: str) -> ProductVars:
    """The accepted quantity of a product, at most what its clearing can give the largest offer.

    ``0 <= A[t] <= top[t]``: invitation form, the clearing of the largest declaration; transaction
    form, ``min(offer_max, need)`` (an offer at price 0); regulation without a battery, 0 (only the
    battery follows the AGC signal). Against a competitor stack, the segments ``<name>.segment_*``.
    """
    cfg = product_config(ctx, name)
    need = product_need(ctx, name)
    q = cfg.offer_max_mw
    if cfg.form == "invitation":  # the largest acceptance: the clearing of the largest declaration
        top = clear_invitation(np.full(len(need), q), cfg.others_ratio * need, need)
    else:  # price-taker: an offer at price 0 is accepted up to the need
        top = np.minimum(q, need)
    if name == "regulation" and ctx.resources.battery is None:
        top = np.zeros_like(top)  # the oracle follows the AGC signal with the battery only
    accepted = m.var(len(need), 0.0, top)
    segments = None
    if name in ctx.stacks:
        segments = segments_block(m, name, ctx.stacks[name], need, cfg.price_cap, cfg.offer_max_mw, accepted)
    return ProductVars(accepted=accepted, segments=segments)


def capacity_payment(ctx: OracleContext, v: ProductVars, price: np.ndarray) -> None:
    """Capacity paid ``A * dt * price``: the published price, or the segment's clearing price."""
    if v.segments is None:
        ctx.gain(v.accepted, ctx.dt * price)
    else:
        ctx.gain(v.segments.a, ctx.dt * v.segments.price)


def regulation_block(m: Model, ctx: OracleContext) -> None:
    """Regulation: paid capacity and mileage, and its mean instructed energy exempt from the imbalance penalty.

    Profit ``A_reg[t] * miles[t] * mileage_price[t] + capacity payment``, ``miles[t] = sum_k |s[t,k] -
    s[t,k-1]|``; adds ``A_reg[t] * mean_k s[t,k]`` to ``grid.deviation`` (the battery follows the
    signal: :func:`agents.oracle.battery.substep_block`).
    """
    grid = ctx.require(ctx.vars.grid, "grid")
    v = ctx.vars.products["regulation"]
    sig = ctx.sig
    prev = np.concatenate([[float(ctx.state.agc_last)], sig[:-1, -1]])
    miles = np.abs(np.diff(np.concatenate([prev[:, None], sig], axis=1), axis=1)).sum(axis=1)
    k, paid = regulation_k(ctx)
    ctx.gain(v.accepted, paid * k * miles * ctx.exo[:, I_REG_MIL_P])
    capacity_payment(ctx, v, paid * ctx.exo[:, I_REG_CAP_P])
    m.coef(grid.deviation, v.accepted, sig.mean(axis=1))


def regulation_k(ctx: OracleContext) -> tuple[np.ndarray, np.ndarray]:
    """The mileage multiplier ``K[t]`` and the pay indicator ``paid[t]`` of each interval.

    ``pjm`` scoring: 1 and 1 (exact tracking scores 1). ``k_value``: the battery tracks the signal
    exactly, so ``k2 = k3 = 1`` and ``k1`` is the signal's own rate: ``K[t]`` is the simulator's
    :func:`vpp_gym.markets.regulation.k_components` of the unit response ``s[t]`` to itself, a
    constant of the interval whatever the award (the rate and the allowances scale with it), and
    ``paid[t] = 1`` iff ``K[t] >= k_min``. So the pay stays linear in the award.
    """
    reg = ctx.p.cfg.markets.regulation
    ones = np.ones(len(ctx.sig))
    if reg is None or reg.scoring != "k_value":
        return ones, ones
    tau = 60.0 * ctx.dt / ctx.sig.shape[1]
    k = k_components(ctx.sig, ctx.sig, ones, tau, reg.max_delay_substeps, reg.k_value)["k"]
    return k, (k >= reg.k_value.k_min).astype(float)


def offer_for(cfg: ProductMarketConfig, accepted: np.ndarray, need: np.ndarray) -> np.ndarray:
    """The declared / offered quantity whose clearing accepts ``accepted`` (inverse of the clearing)."""
    accepted = np.maximum(accepted, 0.0)
    if cfg.form != "invitation":
        return accepted
    r_n = cfg.others_ratio * need
    scaled = accepted + r_n > need  # pro-rata zone: accepted = q N / (q + r N)  ->  q = A r N / (N - A)
    denom = np.where(need - accepted > 0, need - accepted, np.inf)
    return np.where(scaled & (r_n > 0), accepted * r_n / denom, accepted)


def product_decode(ctx: OracleContext, name: str, v: ProductVars, x: np.ndarray, draft: PlanDraft) -> None:
    """The offer whose clearing accepts the plan's quantity (priced at 0); setpoint ``<name>_accepted``."""
    cfg = product_config(ctx, name)
    col = ctx.p.action_index
    offer = offer_for(cfg, x[v.accepted], product_need(ctx, name))
    draft.actions[:, col[f"{name}_mw"]] = offer / cfg.offer_max_mw if cfg.offer_max_mw > 0 else 0.0
    if cfg.form == "transaction":  # an offer at price 0: accepted as a price-taker, or on its segment against a stack
        draft.actions[:, col[f"{name}_price"]] = -1.0
    draft.setpoints[f"{name}_accepted"] = x[v.accepted]
