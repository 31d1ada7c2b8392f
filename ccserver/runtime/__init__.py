"""Where cores' decisions become I/O: the live contact center (interactions, agents, routing),
the screen pop, contact writes through the outbox, and the wallboard publisher."""
