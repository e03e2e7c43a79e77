"""Tests: a dir's run plan and the last-run record, the parallel driver, one dir
(run_tests, pytest_failed, pytest_repro), many dirs (main_pytest), selection, shards,
merging shards' reports, rendering results.

Imports `images`, `run` and `workspace` of the ops folders.
"""
