"""helpers: one containerized dev toolchain for every runnable dir of a repo."""

__version__ = "0.1.0"
