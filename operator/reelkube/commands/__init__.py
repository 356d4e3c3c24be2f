"""Subcommands of the `reelkube` command line."""
