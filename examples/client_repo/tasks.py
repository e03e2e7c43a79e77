from helpers.tasks import ns  # noqa: F401  (add your own tasks with ns.add_task)
