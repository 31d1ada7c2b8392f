"""ccserver: contact-center interaction server."""

__version__ = "0.1.0"
