"""Command-line front end; see ``sass_lab.cli.main``."""
