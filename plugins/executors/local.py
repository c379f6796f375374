"""Run stage tasks one after another in this process."""
from harness import Executor, hookimpl


class LocalExecutor(Executor):
    """In-process, in order: the default. Resumable at any point, like every executor."""

    default = True

    def map(self, fn, items):
        for item in items:
            yield fn(item)


@hookimpl
def register_executors(register):
    register("local", LocalExecutor)
