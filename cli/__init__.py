"""The `recourse` command line."""
from cli.main import app

__all__ = ["app"]
