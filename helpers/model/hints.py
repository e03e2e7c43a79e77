"""How messages name the command that fixes things: one spelling everywhere."""

from __future__ import annotations


def task_line(task: str, rel_dir: str, *rest: str) -> str:
    """`invoke TASK [--dir D] ...` for the runnable dir `rel_dir` ("." needs no --dir)."""
    flag = () if rel_dir == "." else ("--dir", rel_dir)
    return " ".join(("invoke", task, *flag, *rest))


def image_flags(ref: str) -> tuple[str, ...]:
    """The --stage/--version flags that select the image `ref` again (from its tag)."""
    tag = ref.rsplit(":", 1)[-1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    if tag in ("dev", "prod"):
        return ("--stage", tag)
    stage, _, rest = tag.partition("-")
    if stage == "local":
        return ("--version", rest.rsplit("-", 1)[-1])
    if stage in ("dev", "prod"):
        return ("--stage", stage, "--version", rest)
    return ()
