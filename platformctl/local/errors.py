"""The one error the local lifecycle raises: a line saying what failed and how to fix it."""


class LocalError(RuntimeError):
    """Something the user can fix; `str()` is one line naming what and how."""
