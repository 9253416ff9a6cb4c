"""The one exception type users see.

Every error a user can cause (bad option, missing binary, stack that fails to apply, target that is
not running) is raised as :class:`MlinfraError` with one line that says what is wrong and what to do.
The plugin turns it into a pytest usage error or a one-line test failure, never a deep traceback.
"""

from __future__ import annotations


class MlinfraError(Exception):
    """A problem the user can fix; ``str()`` is one line: what is wrong, then what to do."""

    def __init__(self, what: str, todo: str | None = None) -> None:
        self.what = what.rstrip(".")
        self.todo = todo
        super().__init__(f"{self.what}. {todo}" if todo else f"{self.what}.")
