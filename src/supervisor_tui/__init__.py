"""supervisor-tui: a terminal dashboard for live contact-center supervision."""

__version__ = "0.1.0"
