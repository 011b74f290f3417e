"""Experiment configs of the RL agents: YAML loaded into frozen dataclasses, unknown keys rejected.

```yaml
name: ppo_arbitrage                 # names the run folder
env_id: vpp_gym/Arbitrage-v1
scenario: null                      # a scenario YAML (relative to this file), an inline mapping, or null
overrides: {}                       # dotted scenario overrides, e.g. {resources.battery.e_max_mwh: 8.0}
algo: ppo                           # ppo | sac
seed: 0
agent: {learning_rate: 3.0e-4, ...} # PpoConfig or SacConfig, by algo
train: {total_timesteps: 1000000, n_envs: 64, ...}
normalize: {obs: true, reward: true, ...}
eval: {split: val, days: 16}
game: null                          # or {n_agents: 4, learners: one, rivals: mpc}: train in the market game
```

``vpp-gym train CONFIG key=value ...`` applies dotted overrides (``agent.learning_rate=1e-4
seed=3``) before validation; values are read as YAML (``1e-4`` is taken as a number).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from vpp_gym.config import read_yaml
from vpp_gym.tasks import ALL_TASKS
from vpp_gym.validation import (
    ConfigError,
    from_mapping,
    load_yaml,
    merge_overrides,
    require,
    require_int,
    require_range,
    to_mapping,
    warn_unused,
    yaml_error_message,
)

ALGOS = ("ppo", "sac")


SEED_MAX = 2**32 - 1
"""Largest experiment seed: Stable-Baselines3 seeds NumPy's legacy generator, which takes 32 bits."""
EVAL_SEED = 20_261_127
"""Seed of the validation episodes' forecasts and signals: the same for every evaluation and run (SB3 and RLlib)."""
STEPS_MAX = 10**12
"""Largest number of env steps (a budget, an interval): far beyond any training on one machine."""


def _check_net_arch(net_arch: tuple[int, ...]) -> None:
    require(
        1 <= len(net_arch) <= 64 and all(1 <= n <= 65_536 for n in net_arch),
        "agent.net_arch",
        list(net_arch),
        "a list of 1 to 64 layer sizes in [1, 65536]",
    )


@dataclass(frozen=True)
class SearchConfig:
    """Random search over rows of the policy's action head after PPO (``agent.search``; :mod:`agents.rl.search`).

    Attributes:
        iterations: iterations of the search (0 = off).
        rows: the action components whose output rows (weights and bias of the last layer) are searched;
            the rest of the network is kept.
        directions: random directions per iteration, each played at ``+sigma`` and ``-sigma``.
        top: the directions of the update (those with the best of their two profits; ``<= directions``).
        days: train days every candidate of an iteration plays (the same days and draws for all of them).
        sigma: standard deviation of a perturbation of each searched parameter.
        step_size: the update's step, in units of the profits' standard deviation over the top directions.
        eval_every: iterations between validations (the last iteration is always validated).
    """

    iterations: int = 0
    rows: tuple[str, ...] = ("battery",)
    directions: int = 16
    top: int = 8
    days: int = 16
    sigma: float = 0.01
    step_size: float = 0.01
    eval_every: int = 10

    def __post_init__(self) -> None:
        require_int("agent.search.iterations", self.iterations, 0, 1_000_000)
        require(len(self.rows) > 0, "agent.search.rows", list(self.rows), "a non-empty list of action components")
        require(
            len(set(self.rows)) == len(self.rows), "agent.search.rows", list(self.rows), "action components, no repeats"
        )
        require_int("agent.search.directions", self.directions, 1, 4096)
        require_int("agent.search.top", self.top, 1, self.directions)
        require_int("agent.search.days", self.days, 1, 4096)
        require_range("agent.search.sigma", self.sigma, 0.0, 10.0, lo_open=True)
        require_range("agent.search.step_size", self.step_size, 0.0, 10.0, lo_open=True)
        require_int("agent.search.eval_every", self.eval_every, 1, 1_000_000)


@dataclass(frozen=True)
class PpoConfig:
    """PPO hyperparameters (Stable-Baselines3 names; see its ``PPO`` docs).

    Attributes:
        learning_rate: Adam step size (at the start, with ``lr_schedule: linear``).
        lr_schedule: ``constant``, or ``linear`` decay to 0 over training.
        n_steps: steps per sub-env per rollout (rollout = ``n_steps * n_envs``).
        batch_size: minibatch size.
        n_epochs: passes over each rollout.
        gamma: discount.
        gae_lambda: GAE lambda.
        clip_range: policy ratio clip.
        ent_coef: entropy bonus.
        vf_coef: value loss weight.
        max_grad_norm: gradient clip.
        target_kl: early stop of the epochs when the KL exceeds this (null = never).
        log_std_init: initial log standard deviation of the Gaussian policy.
        net_arch: hidden layer sizes of the policy and value networks (separate networks).
        activation: hidden activation.
        init_mean: the initial mean action of the policy: ``zero`` (SB3's default: the action
            network's output bias is 0) or ``passive`` (the bias is the passive reference's action,
            :class:`agents.base.PassivePolicy`: the untrained policy's mean does nothing, e.g. keeps
            the gas unit off, whose zero action runs it at half output). Initialisation only: the
            policy is a plain Gaussian MLP policy either way.
        bc_episodes: episodes of ``bc_policy`` on the train split that the policy's mean action is
            fitted to (behaviour cloning), with the value network fitted to their returns, before
            the first PPO update (0 = none; :mod:`agents.rl.pretrain`).
        bc_policy: the demonstrating policy: ``rule``, ``mpc``, ``mpc_obs`` (MPC on the observation's
            forecasts, :func:`agents.registry.make_policy`) or ``oracle``.
        bc_epochs: passes over the demonstrations.
        bc_learning_rate: Adam step size of the cloning.
        dagger_rounds: rounds of DAgger after the cloning: the clone plays ``dagger_episodes`` train
            days, ``bc_policy`` labels the states it reached, and the fit is repeated on every
            labelled state so far (0 = none).
        dagger_episodes: episodes per DAgger round.
        memory: ``none``, or ``plan``: the policy sees the notes of its own bid steps at dispatch
            (:mod:`agents.rl.memory`; day-ahead tasks with a battery). Agent-side only: the env and its
            reward are unchanged.
        group_size: sub-envs per group of common random numbers (1 = off). With ``G > 1`` the ``G``
            sub-envs of a group are seeded alike, so they play the same days with the same exogenous
            draws (prices, forecasts, signals) and differ only by the policy's own noise; each step's
            advantage is then its discounted return-to-go in the episode less the mean of the same
            step's return-to-go of the group's other members (a leave-one-out baseline, unbiased since
            the others' returns do not depend on its action), instead of GAE. This removes the
            day-to-day spread of the profit (thousands of CNY a day) from the policy gradient. The
            value network is still fitted (to SB3's GAE returns). Needs ``train.vec_env: native``,
            ``train.n_envs`` a multiple of ``G`` and ``n_steps`` a multiple of the episode length.
        battery_dead_zone: width ``d`` in ``[0, 0.95]`` of a dead zone on the policy's battery component
            (0 = off; :mod:`agents.rl.actions`): the env gets ``sign(u) max(|u| - d, 0) / (1 - d)``, so
            the policy can idle exactly (``|u| <= d``) and go all out (``|u| = 1``), and the cloning fits
            the teacher's idle steps as that interval. Agent-side only; tasks with a battery.
        search: random search over rows of the action head after PPO (:class:`SearchConfig`; off by default).
    """

    learning_rate: float = 3e-4
    lr_schedule: Literal["constant", "linear"] = "constant"
    n_steps: int = 96
    batch_size: int = 1024
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    log_std_init: float = 0.0
    net_arch: tuple[int, ...] = (64, 64)
    activation: Literal["tanh", "relu"] = "tanh"
    init_mean: Literal["zero", "passive"] = "zero"
    bc_episodes: int = 0
    bc_policy: Literal["rule", "mpc", "mpc_obs", "oracle"] = "rule"
    bc_epochs: int = 50
    bc_learning_rate: float = 1e-3
    dagger_rounds: int = 0
    dagger_episodes: int = 64
    memory: Literal["none", "plan"] = "none"
    group_size: int = 1
    battery_dead_zone: float = 0.0
    search: SearchConfig = field(default_factory=SearchConfig)

    def __post_init__(self) -> None:
        require_range("agent.learning_rate", self.learning_rate, 0.0, 1.0, lo_open=True)
        require_int("agent.group_size", self.group_size, 1, 65_536)
        require_range("agent.battery_dead_zone", self.battery_dead_zone, 0.0, 0.95)
        if self.battery_dead_zone and self.memory != "none":
            raise ConfigError(
                f"agent.battery_dead_zone: got {self.battery_dead_zone}; it is not offered with memory: plan "
                "(the memory's notes are battery actions in the env's units): set one of them off"
            )
        if self.search.iterations and self.memory != "none":
            raise ConfigError(
                f"agent.search.iterations: got {self.search.iterations}; the search is not offered with memory: plan "
                "(its candidates would need the memory's notes): set one of them off"
            )
        if self.memory == "plan" and self.bc_episodes and self.bc_policy == "oracle":
            raise ConfigError(
                "agent.bc_policy: the oracle does not note a battery plan at its bid steps, which memory: plan "
                "learns from; use bc_policy: rule or mpc"
            )
        if self.memory == "plan" and self.dagger_rounds:
            raise ConfigError(
                f"agent.dagger_rounds: got {self.dagger_rounds}; DAgger is not offered with memory: plan "
                "(the clone's play would need its own notes): set it to 0 or use memory: none"
            )
        require_int("agent.bc_episodes", self.bc_episodes, 0, 1_000_000)
        require_int("agent.bc_epochs", self.bc_epochs, 1, 100_000)
        require_range("agent.bc_learning_rate", self.bc_learning_rate, 0.0, 1.0, lo_open=True)
        require_int("agent.dagger_rounds", self.dagger_rounds, 0, 1000)
        require_int("agent.dagger_episodes", self.dagger_episodes, 1, 1_000_000)
        if self.dagger_rounds and self.bc_policy == "oracle":
            raise ConfigError(
                "agent.dagger_rounds: the oracle plans the day from its start and cannot label the states "
                "another policy reaches; use bc_policy: rule or mpc, or dagger_rounds: 0"
            )
        require_int("agent.n_steps", self.n_steps, 1, 1_000_000)
        require_int("agent.batch_size", self.batch_size, 1, 10_000_000)
        require_int("agent.n_epochs", self.n_epochs, 1, 1000)
        for name in ("gamma", "gae_lambda"):
            require_range(f"agent.{name}", getattr(self, name), 0.0, 1.0)
        require_range("agent.clip_range", self.clip_range, 0.0, 10.0, lo_open=True)
        for name in ("ent_coef", "vf_coef"):
            require_range(f"agent.{name}", getattr(self, name), 0.0, 1000.0)
        require_range("agent.max_grad_norm", self.max_grad_norm, 0.0, 1e6, lo_open=True)
        if self.target_kl is not None:
            require_range("agent.target_kl", self.target_kl, 0.0, 1000.0, lo_open=True)
        require_range("agent.log_std_init", self.log_std_init, -20.0, 20.0)
        _check_net_arch(self.net_arch)


@dataclass(frozen=True)
class SacConfig:
    """SAC hyperparameters (Stable-Baselines3 names; see its ``SAC`` docs).

    Attributes:
        learning_rate: Adam step size of actor, critics and entropy coefficient.
        lr_schedule: ``constant``, or ``linear`` decay to 0 over training.
        buffer_size: replay buffer capacity (transitions).
        learning_starts: transitions collected before the first update.
        batch_size: minibatch size.
        tau: target network soft-update rate.
        gamma: discount.
        train_freq: vector steps between updates.
        gradient_steps: gradient steps per update.
        n_steps: length of the bootstrapped return in the critic target (1 = the usual one-step TD
            target; >1 uses SB3's n-step replay buffer, which stops at episode ends).
        ent_coef: ``auto`` (learned, SB3's default), ``auto_<init>`` (learned from that start), or a
            fixed number.
        target_entropy: ``auto`` (``-action_dim``) or a number.
        net_arch: hidden layer sizes of the actor and critics.
        activation: hidden activation.
        demo_episodes: episodes of ``demo_policy`` on the train split put in the replay buffer before
            the first update (0 = none; a multiple of ``train.n_envs``); see :mod:`agents.rl.demo`.
        demo_policy: the demonstrating policy: ``mpc``, ``rule`` or ``oracle``.
        log_std_init: the actor's initial log standard deviation (before the tanh squashing): null
            keeps SB3's initialisation (a log std that depends on the state, about 0); a number sets
            the actor's log-std layer to zero weights and this bias, the same log std in every state
            (e.g. -3: explore close to a behaviour clone instead of all over the action box).
            Initialisation only: SAC learns the log std from there.
        bc_episodes: episodes of ``bc_policy`` on the train split that the actor's deterministic
            action (the tanh of its mean) is fitted to (behaviour cloning) before the first update,
            as PPO's clone is (0 = none; :mod:`agents.rl.pretrain`). The critics are not fitted:
            they learn from the replay buffer (the demonstrations, then the clone's own steps). The
            trainer evaluates the clone at step 0, so it is a candidate for the best unit.
        bc_policy: the cloned policy: ``rule``, ``mpc`` or ``oracle``.
        bc_epochs: passes over the cloning episodes.
        bc_learning_rate: Adam step size of the cloning.
        critic_warmup_steps: gradient steps on the critics alone, on the replay buffer (the
            demonstrations and the first ``learning_starts`` steps the actor played), just before
            SAC's first update (0 = none): the actor (a clone) first meets a critic that has learnt
            what its actions are worth, not a random one (:func:`agents.rl.pretrain.warm_up_critics`).
    """

    learning_rate: float = 3e-4
    lr_schedule: Literal["constant", "linear"] = "constant"
    buffer_size: int = 300_000
    learning_starts: int = 5_000
    batch_size: int = 256
    tau: float = 0.005
    gamma: float = 0.99
    train_freq: int = 1
    gradient_steps: int = 1
    n_steps: int = 1
    ent_coef: float | str = "auto"
    target_entropy: float | str = "auto"
    net_arch: tuple[int, ...] = (256, 256)
    activation: Literal["tanh", "relu"] = "relu"
    demo_episodes: int = 0
    demo_policy: Literal["mpc", "mpc_obs", "rule", "oracle"] = "mpc"
    log_std_init: float | None = None
    bc_episodes: int = 0
    bc_policy: Literal["rule", "mpc", "mpc_obs", "oracle"] = "rule"
    bc_epochs: int = 50
    bc_learning_rate: float = 1e-3
    critic_warmup_steps: int = 0

    def __post_init__(self) -> None:
        require_range("agent.learning_rate", self.learning_rate, 0.0, 1.0, lo_open=True)
        require_int("agent.demo_episodes", self.demo_episodes, 0, 1_000_000)
        require_int("agent.critic_warmup_steps", self.critic_warmup_steps, 0, 10_000_000)
        require_int("agent.bc_episodes", self.bc_episodes, 0, 1_000_000)
        require_int("agent.bc_epochs", self.bc_epochs, 1, 100_000)
        require_range("agent.bc_learning_rate", self.bc_learning_rate, 0.0, 1.0, lo_open=True)
        if self.log_std_init is not None:
            require_range("agent.log_std_init", self.log_std_init, -20.0, 2.0)  # SB3 clamps the log std to [-20, 2]
        require_int("agent.buffer_size", self.buffer_size, 1, 100_000_000)  # allocated up front
        require_int("agent.batch_size", self.batch_size, 1, 10_000_000)
        require_int("agent.train_freq", self.train_freq, 1, 1_000_000)
        require_int("agent.gradient_steps", self.gradient_steps, 1, 1_000_000)
        require_int("agent.n_steps", self.n_steps, 1, 1000)
        require_int("agent.learning_starts", self.learning_starts, 0, STEPS_MAX)
        require_range("agent.tau", self.tau, 0.0, 1.0, lo_open=True)
        require_range("agent.gamma", self.gamma, 0.0, 1.0)
        if isinstance(self.ent_coef, str):
            require(_auto(self.ent_coef), "agent.ent_coef", self.ent_coef, "'auto', 'auto_<initial value>' or a number")
        else:
            require_range("agent.ent_coef", self.ent_coef, 0.0, 1000.0)
        if isinstance(self.target_entropy, str):
            require(self.target_entropy == "auto", "agent.target_entropy", self.target_entropy, "'auto' or a number")
        else:
            require_range("agent.target_entropy", self.target_entropy, -1e6, 1e6)
        _check_net_arch(self.net_arch)


def _auto(text: str) -> bool:
    """``auto`` or ``auto_<initial value in (0, 1000]>``."""
    if text == "auto":
        return True
    try:
        return text.startswith("auto_") and 0.0 < float(text[5:]) <= 1000.0
    except ValueError:
        return False


@dataclass(frozen=True)
class TrainConfig:
    """Training budget and machinery.

    Attributes:
        total_timesteps: env steps over all sub-envs.
        n_envs: parallel sub-envs.
        vec_env: ``native`` (the batched vector env, :mod:`vpp_gym.sb3`) or ``dummy`` (SB3's
            ``DummyVecEnv`` over single envs; same trajectories, slower).
        eval_every_steps: env steps between validation evaluations (best model kept); 0 = only at the end.
        checkpoint_every_steps: env steps between resumable checkpoints; 0 = only at the end.
        torch_threads: CPU threads of torch (1 keeps two runs from fighting over 2 cores).
        device: torch device.
    """

    total_timesteps: int = 1_000_000
    n_envs: int = 64
    vec_env: Literal["native", "dummy"] = "native"
    eval_every_steps: int = 100_000
    checkpoint_every_steps: int = 200_000
    torch_threads: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        require_int("train.total_timesteps", self.total_timesteps, 1, STEPS_MAX)
        require_int("train.n_envs", self.n_envs, 1, 65_536)
        for name in ("eval_every_steps", "checkpoint_every_steps"):
            require_int(f"train.{name}", getattr(self, name), 0, STEPS_MAX)
        require_int("train.torch_threads", self.torch_threads, 1, 1024)


@dataclass(frozen=True)
class NormalizeConfig:
    """Running normalisation of observations and rewards (SB3 ``VecNormalize``), saved with the model.

    Attributes:
        obs: normalise observations.
        reward: scale rewards by the running std of the discounted return.
        clip_obs: clip of the normalised observations.
        clip_reward: clip of the scaled rewards.
        update: update the running statistics with the agent's steps during training; ``false``
            keeps them as the demonstrations and the behaviour cloning left them (they are updated
            with those episodes either way), so that a clone fitted on normalised observations
            sees the same inputs later.
    """

    obs: bool = True
    reward: bool = True
    clip_obs: float = 10.0
    clip_reward: float = 10.0
    update: bool = True

    def __post_init__(self) -> None:
        require_range("normalize.clip_obs", self.clip_obs, 0.0, 1e6, lo_open=True)
        require_range("normalize.clip_reward", self.clip_reward, 0.0, 1e6, lo_open=True)


@dataclass(frozen=True)
class EvalConfig:
    """Validation during training: deterministic policy on the first ``days`` days of ``split``.

    Attributes:
        split: ``val`` (never ``test``: the test split is for the final judgement only).
        days: number of days (episodes) per evaluation.
    """

    split: Literal["train", "val"] = "val"
    days: int = 16

    def __post_init__(self) -> None:
        require_int("eval.days", self.days, 1, 36_600)


GAME_LEARNERS = ("one", "shared")


@dataclass(frozen=True)
class GameConfig:
    """Train in the market game instead of the single env (:mod:`agents.rl.seats`, issue #17).

    The game has ``n_agents`` identical VPPs of the experiment's ``env_id`` with its ``scenario`` and
    ``overrides`` (a null scenario is the game's default, the autonomous preset of :mod:`vpp_gym.multi`).

    Attributes:
        n_agents: seats in the game (2 to 64).
        learners: ``one``: seat ``seat`` learns against ``rivals``; ``shared``: every seat plays the one
            policy and all seats' experience trains it (parameter sharing).
        seat: the learner's seat (``one``; in ``shared`` the seat whose profit validation records).
        rivals: the policy of every other seat (``one`` only): a registered name (``mpc``, ``rule``, ...), a
            trained run's folder (relative to the config's folder), a mapping ``{name: NAME, settings...}``
            (:data:`agents.game.PolicySpec`), or a mapping agent -> one of those for each rival seat
            (``{vpp_1: mpc, vpp_2: rule}``); required with ``one``, null with ``shared``.
        public_obs: append the public rows (last cleared price and total award) to the observation.
    """

    n_agents: int = 2
    learners: Literal["one", "shared"] = "one"
    seat: int = 0
    rivals: str | dict[str, Any] | None = None
    public_obs: bool = False

    def __post_init__(self) -> None:
        require_int("game.n_agents", self.n_agents, 2, 64)
        require(self.learners in GAME_LEARNERS, "game.learners", self.learners, "one of " + ", ".join(GAME_LEARNERS))
        require_int("game.seat", self.seat, 0, self.n_agents - 1)
        if self.learners == "one":
            require(
                isinstance(self.rivals, str | dict) and bool(self.rivals),
                "game.rivals",
                self.rivals,
                "the rivals' policy with learners: one: a registered name (e.g. mpc) or {name: NAME, settings...}",
            )
        else:
            require(self.rivals is None, "game.rivals", self.rivals, "null with learners: shared (every seat learns)")


@dataclass(frozen=True)
class ExperimentConfig:
    """One training run; see the module docstring for the YAML layout."""

    name: str
    env_id: str
    algo: Literal["ppo", "sac"]
    scenario: str | dict[str, Any] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    agent: PpoConfig | SacConfig | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    game: GameConfig | None = None

    def __post_init__(self) -> None:

        require(self.env_id in ALL_TASKS, "env_id", self.env_id, "one of " + ", ".join(ALL_TASKS))
        require_int("seed", self.seed, 0, SEED_MAX)
        require(bool(self.name) and "/" not in self.name, "name", self.name, "a non-empty name without '/'")
        if self.game is not None:
            require(self.algo == "ppo", "algo", self.algo, "ppo with a game section (SAC is not offered in the game)")
            g = self.game
            if isinstance(self.agent, PpoConfig) and self.agent.memory != "none":
                raise ConfigError(
                    f"agent.memory: got {self.agent.memory}; the plan memory is not offered in the game: "
                    "use memory: none"
                )
            if isinstance(self.agent, PpoConfig) and self.agent.battery_dead_zone:
                raise ConfigError(
                    f"agent.battery_dead_zone: got {self.agent.battery_dead_zone}; the dead zone is not offered "
                    "in the game: set it to 0"
                )
            if isinstance(self.agent, PpoConfig) and self.agent.search.iterations:
                raise ConfigError(
                    f"agent.search.iterations: got {self.agent.search.iterations}; the search is not offered in the "
                    "game: set it to 0"
                )
            if isinstance(self.agent, PpoConfig) and self.agent.dagger_rounds:
                raise ConfigError(
                    f"agent.dagger_rounds: got {self.agent.dagger_rounds}; DAgger is not offered in the game (its "
                    "rounds would play against the teacher in every seat, not against the rivals): set it to 0"
                )
            if g.learners == "one":
                require(
                    self.train.vec_env == "dummy",
                    "train.vec_env",
                    self.train.vec_env,
                    "dummy with game.learners: one (each sub-env is a whole game with its rivals)",
                )
            elif self.train.n_envs % g.n_agents:
                raise ConfigError(
                    f"train.n_envs: got {self.train.n_envs}, expected a multiple of game.n_agents ({g.n_agents}) "
                    "with game.learners: shared (the sub-envs are the seats of whole games)"
                )
        if isinstance(self.agent, PpoConfig) and self.agent.group_size > 1:
            g_size = self.agent.group_size
            if self.game is not None:
                raise ConfigError("agent.group_size: common-random-number groups are not offered in the game; use 1")
            require(
                self.train.vec_env == "native",
                "train.vec_env",
                self.train.vec_env,
                f"native with agent.group_size: {g_size} (the groups are rows of the native vector env)",
            )
            if self.train.n_envs % g_size:
                raise ConfigError(
                    f"train.n_envs: got {self.train.n_envs}, expected a multiple of agent.group_size ({g_size})"
                )
        if isinstance(self.agent, SacConfig) and self.agent.demo_episodes % self.train.n_envs:
            raise ConfigError(
                f"agent.demo_episodes: got {self.agent.demo_episodes}, expected a multiple of "
                f"train.n_envs ({self.train.n_envs}), since demonstrations run one per sub-env "
                "in lockstep"
            )


def load_experiment(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None, mapping: dict[str, Any] | None = None
) -> tuple[ExperimentConfig, Path]:
    """Load an experiment YAML (or a mapping) with dotted ``overrides``; relative paths resolve against its folder.

    Returns:
        ``(config, base_dir)``.
    """
    data = read_yaml(path) if path is not None else dict(mapping or {})
    base_dir = Path(path).resolve().parent if path is not None else Path.cwd()
    data = merge_overrides(data, overrides or {})
    algo = data.get("algo")
    require(algo in ALGOS, "algo", algo, "one of " + ", ".join(ALGOS))
    agent: PpoConfig | SacConfig
    if algo == "ppo":
        agent = from_mapping(PpoConfig, data.get("agent"), "agent")
    else:
        agent = from_mapping(SacConfig, data.get("agent"), "agent")
    cfg = replace(from_mapping(ExperimentConfig, {k: v for k, v in data.items() if k != "agent"}), agent=agent)
    for key, value, why in unused_keys(cfg):
        warn_unused(key, value, why)
    return cfg, base_dir


def unused_keys(cfg: ExperimentConfig) -> list[tuple[str, object, str]]:
    """Keys set to a non-default value that have no effect in this experiment (reported as ``ConfigWarning``)."""
    out: list[tuple[str, object, str]] = []
    a, n = cfg.agent, cfg.normalize
    if isinstance(a, PpoConfig) and a.bc_episodes == 0:
        for key in ("bc_policy", "bc_epochs", "bc_learning_rate", "dagger_rounds", "dagger_episodes"):
            if getattr(a, key) != getattr(PpoConfig(), key):
                out.append((f"agent.{key}", getattr(a, key), "agent.bc_episodes is 0 (no behaviour cloning)"))
    if isinstance(a, SacConfig) and a.bc_episodes == 0:
        for key in ("bc_policy", "bc_epochs", "bc_learning_rate"):
            if getattr(a, key) != getattr(SacConfig(), key):
                out.append((f"agent.{key}", getattr(a, key), "agent.bc_episodes is 0 (no behaviour cloning)"))
    if isinstance(a, SacConfig) and a.demo_episodes == 0 and a.demo_policy != SacConfig().demo_policy:
        out.append(("agent.demo_policy", a.demo_policy, "agent.demo_episodes is 0 (no demonstrations)"))
    default = NormalizeConfig()
    if not n.obs and n.clip_obs != default.clip_obs:
        out.append(("normalize.clip_obs", n.clip_obs, "normalize.obs is false"))
    if not n.reward and n.clip_reward != default.clip_reward:
        out.append(("normalize.clip_reward", n.clip_reward, "normalize.reward is false"))
    return out


def parse_cli_overrides(items: list[str]) -> dict[str, Any]:
    """``["agent.learning_rate=1e-4", "seed=3"]`` -> dotted overrides; values read as YAML.

    An unquoted value YAML reads as text but Python reads as a number (``1e-4``: YAML 1.1 wants
    ``1.0e-4``) is a number; quote it to keep text.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. agent.learning_rate=1e-4")
        try:
            value = load_yaml(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: the value is not valid YAML: {yaml_error_message(err)}") from None
        quoted = text.strip()[:1] in ("'", '"')
        if isinstance(value, str) and not quoted:
            try:
                value = float(value) if any(c in value.lower() for c in ".e") else int(value)
            except ValueError:
                pass
        out[key] = value
    return out


def experiment_yaml(cfg: Any) -> str:
    """An experiment config (SB3's :class:`ExperimentConfig` or RLlib's
    :class:`agents.rl.rllib.GameExperimentConfig`) as YAML (loads back to an equal config)."""
    return yaml.safe_dump(to_mapping(cfg), sort_keys=False)
