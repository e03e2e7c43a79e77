"""Effects: the one process seam and what talks to the outside (engine, git, registry, files)."""
