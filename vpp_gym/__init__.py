"""vpp-gym: a virtual power plant trading in an electricity-carbon joint market (Gymnasium)."""

from vpp_gym.tasks import TASKS, register_tasks

__version__ = "0.1.0"

register_tasks()

__all__ = ["TASKS", "__version__", "register_tasks"]
