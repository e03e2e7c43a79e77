"""Images: build, build context, dependency units and requirements, freshness, the choice
of the image a task runs, prod images, platforms, locks, CA certificates.

Imports no other ops folder.
"""
