"""The workspace as a whole: changes and bookmarks, info, the dependency graph's
renderings, the shared loader of the hygiene checks, check_libs (collect, fix) and
check_boundaries.

Imports only `images` of the ops folders.
"""
