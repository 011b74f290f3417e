"""The YAML configs of vpp-gym. This folder is installed as the package ``vpp_gym.configs``
(``package-dir`` in ``pyproject.toml``), so that :func:`vpp_gym.config.packaged_config` finds its
files with :mod:`importlib.resources` in any install; in the repository they stay at ``configs/``.
"""
