"""The base of every error a user can fix (bad params, bad input files, bad data)."""


class StarrecError(Exception):
    """A problem with the user's params or data; its message says what to change."""


class MissingInput(StarrecError, FileNotFoundError):
    """An input that an earlier stage (or the user) should have made is not there."""
