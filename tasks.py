from helpers.tasks import ns  # noqa: F401
