"""Releases: the flow shared by dev and prod, each stage's steps, rollbacks, the step
executor, pulling and logging in to registries.

Imports `images`, `run`, `workspace` and `testing` of the ops folders.
"""
