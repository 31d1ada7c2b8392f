"""ACD routing core (sans-I/O). See routing.engine."""
