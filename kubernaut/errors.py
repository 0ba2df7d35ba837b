"""Errors shared by every subcommand."""


class CommandError(Exception):
    """A problem with the user's input: printed as one line on stderr, exit code 2."""
