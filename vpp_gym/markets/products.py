"""Rules of the capacity-type products (regulation, reserve, demand response) and their two forms.

Each product is opened by giving its section in ``markets`` (``null`` closes it) and picks its
organisation form:

- ``invitation``: the need and a fixed price come from the scenario series (``reg_need_mw`` and
  ``reg_cap_price_per_mw``, ...). The VPP declares a quantity ``q = max(a, 0) * offer_max_mw``;
  the competitors declare ``others_ratio * need``; oversubscription is scaled pro rata
  (:func:`~vpp_gym.markets.clearing.clear_invitation`); the accepted quantity is paid the series price.
- ``transaction``: the VPP offers ``q`` at ``price = (a_price + 1) / 2 * price_cap``; the offer is
  cleared with the competitor stack (``competitors``, drawn per episode around the series price)
  in merit order at the marginal price (:func:`~vpp_gym.markets.clearing.clear_transaction`).
  With ``competitors.n_offers = 0`` the VPP is a price-taker against the series price.

Reserve and demand-response delivery that falls short of what was accepted is charged
``shortfall_penalty_per_mwh``; regulation is paid by its performance score instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from vpp_gym.markets.clearing import CompetitorStackConfig
from vpp_gym.markets.regulation import (
    PROVIDERS,
    SPLITS,
    AgcSignalConfig,
    EvResponseConfig,
    FlexLoadResponseConfig,
    KValueConfig,
    ProviderResponseConfig,
)
from vpp_gym.validation import MAX_POWER_MW, MAX_PRICE_PER_MWH, is_integer, require, require_int, require_range


@dataclass(frozen=True)
class ProductMarketConfig:
    """Rules shared by the capacity-type products.

    Attributes:
        form: ``invitation`` (fixed price, declared quantity) or ``transaction`` (quantity-price offers).
        offer_max_mw: the largest quantity the VPP can declare or offer (action scale).
        price_cap: highest admissible offer price and scarcity price (transaction form), in the
            product's price unit (per MW per hour for capacity, per MWh for demand response).
        others_ratio: invitation form: competitors' declarations as a multiple of the need.
        competitors: transaction form: the competitor offer stack (0 offers = price-taker).
    """

    TRANSACTION_ONLY_KEYS: ClassVar[tuple[str, ...]] = ("price_cap", "competitors")
    """Keys that are rules of the transaction form only (set under the invitation form, they warn)."""

    form: Literal["invitation", "transaction"] = "invitation"
    offer_max_mw: float = 2.0
    price_cap: float = 60.0
    others_ratio: float = 0.8
    competitors: CompetitorStackConfig = field(default_factory=CompetitorStackConfig)

    def __post_init__(self) -> None:
        require(self.form in ("invitation", "transaction"), "form", self.form, "'invitation' or 'transaction'")
        require_range("offer_max_mw", self.offer_max_mw, 0.0, MAX_POWER_MW)
        require_range("price_cap", self.price_cap, 0.0, MAX_PRICE_PER_MWH, lo_open=True)
        require_range("others_ratio", self.others_ratio, 0.0, 100.0)


@dataclass(frozen=True)
class RegulationMarketConfig(ProductMarketConfig):
    """Frequency regulation: capacity + mileage, paid by the performance score.

    The award is the cleared capacity capped at the VPP's capability for the interval: the sum over the
    ``providers`` of each one's symmetric headroom around its base setpoint, ``min(p_hi - p_base, p_base -
    p_lo)`` within its feasible range ``[p_lo, p_hi]`` (an ISO pays no regulation capacity that could not
    follow the full signal; the ledger reports ``cleared_mw``, ``capability_mw`` and ``accepted_mw``). By
    default only the battery provides (the v0 rule). The award is split between the providers by
    ``split`` and each follows its share at ``agc.substeps`` sub-steps with its own response model: the
    battery's requested ``C * s(k)``, delayed by ``delay_substeps`` and rate-limited by
    ``ramp_mw_per_substep`` (:func:`vpp_gym.markets.regulation.response`), the EV fleet's and the flexible
    load's by ``ev`` and ``flex_load`` (:class:`~vpp_gym.markets.regulation.ProviderResponseConfig`); the
    aggregate response is scored. Payment
    ``(C * capacity price * dt + C * mileage(s) * mileage price) * score`` (0 below ``min_score``).
    The regulation energy moves the battery's state of charge sub-step by sub-step, and its wear is
    charged on the mean absolute power of that profile; the EV fleet's moves the energy its vehicles still
    need (V2G wear on the discharged part), the flexible load's its shift backlog (repaid by the window's
    end, shift cost on the mean absolute shift): :mod:`vpp_gym.markets.regulation`, "Providers".

    The AGC signal has ``agc.substeps`` sub-steps per market interval (15 = 1 minute at the default
    15-min interval); its mileage, and so the mileage payment, is measured at that resolution: at a
    60-min interval set ``agc.substeps: 60`` to keep 1-minute sub-steps.

    Attributes:
        agc: the AGC signal generator.
        delay_substeps: the battery's response delay (sub-steps).
        ramp_mw_per_substep: the battery's response ramp limit (MW per sub-step, null = none).
        providers: the resources that follow the signal, any of ``battery``, ``ev``, ``flex_load`` (default
            ``[battery]``, the v0 rule; in a scenario without a battery nothing is then awarded); any other
            list must name resources the scenario has.
        split: how the award is shared: ``fastest_first`` (default): each provider in order of speed (shortest
            delay, then no ramp limit before a limited one, then battery, EV, flexible load) takes what its
            headroom holds of what is left; ``pro_rata``: in proportion to the providers' headroom.
        ev: the EV fleet's response model (read when ``ev`` is a provider).
        flex_load: the flexible load's response model (read when ``flex_load`` is a provider).
        max_delay_substeps: the score's delay window.
        min_score: qualification threshold of the score.
        shortfall_penalty_per_mwh: day-ahead timeline only: capacity awarded at D-1 that the battery's
            headroom cannot hold at delivery pays this per MW and hour (``penalty.regulation_shortfall``;
            default twice the price cap, a modelling assumption: ``docs/market_rules.md``).
        scoring: ``pjm`` (default, the v0 rule): the PJM-style score above, paid
            ``(capacity + mileage) x score`` from ``min_score``; ``k_value``: China's K value measured from
            the same response (``k1`` rate, ``k2`` delay, ``k3`` precision; :class:`KValueConfig`), paid
            ``capacity + mileage x K`` from ``k_value.k_min``, and in the transaction form the offer ranked
            at ``price / K`` of the last followed interval (:mod:`vpp_gym.markets.regulation`). The
            ledger's ``regulation.score`` is then K, and the observation's ``reg_score`` ``K / k_max``.
        k_value: the K-value rules (read only with ``scoring: k_value``).
    """

    price_cap: float = 60.0
    agc: AgcSignalConfig = field(default_factory=AgcSignalConfig)
    delay_substeps: int = 0
    ramp_mw_per_substep: float | None = None
    max_delay_substeps: int = 5
    min_score: float = 0.4
    shortfall_penalty_per_mwh: float = 120.0
    scoring: Literal["pjm", "k_value"] = "pjm"
    k_value: KValueConfig = field(default_factory=KValueConfig)
    providers: tuple[str, ...] = ("battery",)
    split: Literal["fastest_first", "pro_rata"] = "fastest_first"
    ev: EvResponseConfig = field(default_factory=EvResponseConfig)
    flex_load: FlexLoadResponseConfig = field(default_factory=FlexLoadResponseConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.scoring in ("pjm", "k_value"), "scoring", self.scoring, "'pjm' or 'k_value'")
        require(
            is_integer(self.delay_substeps) and 0 <= self.delay_substeps < self.agc.substeps,
            "delay_substeps",
            self.delay_substeps,
            f"an integer in [0, agc.substeps={self.agc.substeps})",
        )
        require_int("max_delay_substeps", self.max_delay_substeps, 0, self.agc.substeps - 2)
        if self.ramp_mw_per_substep is not None:
            require_range("ramp_mw_per_substep", self.ramp_mw_per_substep, 0.0, MAX_POWER_MW, lo_open=True)
        require_range("min_score", self.min_score, 0.0, 1.0)
        require_range("shortfall_penalty_per_mwh", self.shortfall_penalty_per_mwh, 0.0, 1e5)
        names = self.providers
        require(
            isinstance(names, tuple | list)
            and len(names) >= 1
            and all(n in PROVIDERS for n in names)
            and len(set(names)) == len(names),
            "providers",
            names,
            f"a non-empty list of distinct names from {', '.join(PROVIDERS)}",
        )
        object.__setattr__(self, "providers", tuple(names))
        require(self.split in SPLITS, "split", self.split, " or ".join(repr(v) for v in SPLITS))
        for name in ("ev", "flex_load"):
            sub: ProviderResponseConfig = getattr(self, name)
            require(
                sub.delay_substeps < self.agc.substeps,
                f"{name}.delay_substeps",
                sub.delay_substeps,
                f"an integer in [0, agc.substeps={self.agc.substeps})",
            )

    def response_of(self, provider: str) -> tuple[int, float | None, float | None]:
        """``(delay_substeps, ramp_mw_per_substep, ramp_share_per_substep)`` of a provider (unused: None)."""
        if provider == "battery":
            return self.delay_substeps, self.ramp_mw_per_substep, None
        sub: ProviderResponseConfig = getattr(self, provider)
        return sub.delay_substeps, None, sub.ramp_share_per_substep

    @property
    def speed_order(self) -> tuple[str, ...]:
        """The providers fastest first: shortest delay, then no ramp limit, then registry order."""

        def key(name: str) -> tuple[int, bool, int]:
            delay, ramp_mw, ramp_share = self.response_of(name)
            return delay, ramp_mw is not None or ramp_share is not None, PROVIDERS.index(name)

        return tuple(sorted(self.providers, key=key))


@dataclass(frozen=True)
class ReserveMarketConfig(ProductMarketConfig):
    """Reserve: accepted capacity paid ``C * price * dt``; deployment calls (``reserve_call_share``) must be
    delivered as extra injection from the battery's spare headroom, the gas unit and load curtailment;
    the energy delivered is settled in real time and any shortfall is penalised."""

    price_cap: float = 40.0
    shortfall_penalty_per_mwh: float = 500.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require_range("shortfall_penalty_per_mwh", self.shortfall_penalty_per_mwh, 0.0, 1e5)


@dataclass(frozen=True)
class DemandResponseConfig(ProductMarketConfig):
    """Peak shaving / valley filling events (``dr_need_mw``: + = consume less / inject more, - = the reverse).

    The response is the net injection's move against a **baseline** in the event's direction, net of
    deployed reserve and regulation energy (positive power = injection, so a baseline consumption
    ``C_base`` and an actual net consumption ``C`` give a peak-shaving response ``C_base - C``):
    ``delivered = max(direction * (net - reserve deployed - regulation energy - baseline), 0)``.
    Rules and sources: :mod:`vpp_gym.markets.demand_response`.

    Attributes:
        shortfall_penalty_per_mwh: the undelivered quantity pays this per MWh.
        baseline: ``passive`` (default, the v0 rule): the net injection the VPP would have in the same
            interval with no flexibility used (renewables uncurtailed, storage and EVs idle, base load,
            gas off); ``similar_days``: the interval's available renewable output minus the mean base
            load of the same interval over the ``baseline_days`` most recent working days without an
            event before the invitation day D-1 (Jiangsu 2015; the past days' passive base load from
            the series, not a metered one).
        baseline_days: ``similar_days``: how many past days are averaged (Jiangsu 2015: 5).
        payment: ``capped`` (default, the v0 rule): paid ``min(delivered, accepted)``, the shortfall
            ``max(accepted - delivered, 0)`` penalised; ``band``: the effective-response band: paid the
            delivery in full from ``band_low_share`` to ``band_high_share`` of the accepted quantity,
            capped at ``band_high_share`` above it, nothing below ``band_low_share``, where the
            shortfall ``max(band_low_share * accepted - delivered, 0)`` is penalised.
        band_low_share: ``band``: the lowest paid response rate (assumption 0.8).
        band_high_share: ``band``: the highest paid response rate (assumption 1.2).
        announce_hour: day-ahead timeline: local hour on D-1 at which the grid announces day D's
            events (need, window and price of every interval) and, with ``similar_days``, its baseline;
            from then on every step observes them exactly (:mod:`vpp_gym.core.announcement`). At most
            ``markets.energy.gate_hour``: the VPP declares at the gate, after the invitation. Default 9.0,
            an hour before the default gate: the invitation day D-1 follows the day-ahead invitations of
            the programmes (Guangdong, Hainan: ``docs/market_rules.md`` section 4, D-1 an assumption);
            no programme's hour was found (assumption).
    """

    price_cap: float = 3000.0
    shortfall_penalty_per_mwh: float = 1000.0
    baseline: Literal["passive", "similar_days"] = "passive"
    baseline_days: int = 5
    payment: Literal["capped", "band"] = "capped"
    band_low_share: float = 0.8
    band_high_share: float = 1.2
    announce_hour: float = 9.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require_range("shortfall_penalty_per_mwh", self.shortfall_penalty_per_mwh, 0.0, 1e5)
        require_range("announce_hour", self.announce_hour, 0.0, 24.0, hi_open=True)
        require(self.baseline in ("passive", "similar_days"), "baseline", self.baseline, "'passive' or 'similar_days'")
        require_int("baseline_days", self.baseline_days, 1, 30)
        require(self.payment in ("capped", "band"), "payment", self.payment, "'capped' or 'band'")
        require_range("band_low_share", self.band_low_share, 0.0, 1.0)
        require_range("band_high_share", self.band_high_share, 1.0, 2.0)
