"""Everything that chooses actions for vpp-gym environments, and what plays and compares them.

Baselines (rule-based, perfect-foresight oracle, MPC), RL agents (PPO and SAC, :mod:`agents.rl`), the
evaluation harness and its report, and the ``vpp-gym`` command line (:mod:`agents.cli`).
"""
