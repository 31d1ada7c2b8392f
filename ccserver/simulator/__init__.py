"""A fake Asterisk speaking real AMI over TCP, and simulated callers and phones.

Public API: :class:`AsteriskSimulator` and the caller script steps."""

from ccserver.simulator.callers import (
    CallHandle,
    Hangup,
    Press,
    Step,
    Talk,
    Wait,
    WaitForAgent,
    random_script,
)
from ccserver.simulator.simulator import AsteriskSimulator

__all__ = [
    "AsteriskSimulator",
    "CallHandle",
    "Hangup",
    "Press",
    "Step",
    "Talk",
    "Wait",
    "WaitForAgent",
    "random_script",
]
