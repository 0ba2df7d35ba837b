"""The `kubernaut` command: a thin dispatcher over the subcommands each package provides."""

__version__ = "0.1.0"
