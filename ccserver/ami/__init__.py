"""Asterisk Manager Interface: sans-I/O codec (:mod:`.protocol`), AsyncAGI helpers
(:mod:`.agi`), retry policies (:mod:`.retry`) and the asyncio client (:mod:`.connection`)."""
