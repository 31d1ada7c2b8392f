"""IVR core: flows from TOML, a sans-I/O session per caller, the path each caller took.

Imports only the standard library and ``ccserver.domain`` / ``ccserver.errors``.
"""
