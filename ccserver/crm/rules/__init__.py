"""Customer-service practice rules (sans-I/O): complaints, follow-ups, surveys, segments.

Pure standard library plus ``ccserver.domain`` / ``ccserver.errors``. The database services
and web endpoints that persist and expose these objects live elsewhere and call in here;
time is always passed in (epoch seconds or aware datetimes), nothing here reads a clock.
"""
