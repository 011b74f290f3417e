"""Reinforcement-learning agents (Stable-Baselines3 PPO and SAC) trained from YAML experiment configs.

``vpp-gym train CONFIG [key=value ...]`` trains one run into a run folder (:mod:`agents.rl.train`);
:class:`agents.rl.policy.RlPolicy` loads a run folder as a :class:`agents.base.Policy`. Needs the
``rl`` extra (torch, stable-baselines3).
"""
