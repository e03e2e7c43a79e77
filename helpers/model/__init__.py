"""The model: plain data read from the repo (config, changelog, units, images); pure."""
