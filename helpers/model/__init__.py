"""The model: plain data read from the repo (config, changelog, units, images).

The model *reads* the repo (git, files), never the engine or the network, and knows no
operation (helpers/model/ruff.toml checks it).
"""
