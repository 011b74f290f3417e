"""Everything that chooses actions for vpp-gym environments: baselines and (later) RL agents."""
