"""Helpers shared by the IVR tests: build small flows inline, feed events, summarise actions."""

from __future__ import annotations

import json
import re
from typing import Any

from ivr import actions as a
from ivr import events as e
from ivr.loader import loads_flow
from ivr.model import Flow
from ivr.session import IvrSession


def make_flow(nodes: str, *, start: str = "n", languages: tuple[str, ...] = ("en", "ja"),
              head: str = "") -> Flow:  # fmt: skip
    """A flow from node tables; every "p-..." id used gets a prompt "<LANG> p-...".."""
    ids = sorted(set(re.findall(r'"(p-[a-z0-9-]+)"', nodes)))
    prompts = "".join(
        f"\n[prompts.{pid}]\n" + "".join(f'{lang} = "{lang.upper()} {pid}"\n' for lang in languages)
        for pid in ids
    )
    langs = ", ".join(f'"{x}"' for x in languages)
    text = f'[flow]\nname = "t"\nstart = "{start}"\nlanguages = [{langs}]\n{head}\n{nodes}\n'
    # Shared exits, added only when used (an unused node would be unreachable: invalid).
    if '"agent"' in nodes + head and "[nodes.agent]" not in nodes:
        text += '\n[nodes.agent]\nkind = "route"\nqueue = "general"\n'
    if '"bye"' in nodes and "[nodes.bye]" not in nodes:
        text += '\n[nodes.bye]\nkind = "hangup"\n'
    return loads_flow(text + prompts, "t.toml")


def event(spec: str, now: float) -> e.IvrEvent:
    """'start', 'd:12', 't:hello', 'timeout', 'l:{json}', 'l:none', 'hangup', 'played'."""
    kind, _, arg = spec.partition(":")
    if kind == "start":
        return e.Started(now)
    if kind == "d":
        return e.Digits(now, arg)
    if kind == "t":
        return e.Text(now, arg)
    if kind == "timeout":
        return e.Timeout(now)
    if kind == "l":
        return e.LookupResult(now, None if arg == "none" else json.loads(arg))
    if kind == "hangup":
        return e.Hangup(now)
    if kind == "played":
        return e.PlayDone(now)
    raise ValueError(spec)


def summary(action: a.IvrAction) -> str:
    match action:
        case a.Play(prompt=p, language=lang):
            return f"play:{p}@{lang}"
        case a.Collect(node=n):
            return f"collect:{n}"
        case a.SayDigits(digits=d):
            return f"digits:{d}"
        case a.SayNumber(number=n):
            return f"number:{n}"
        case a.SayDate(date=d):
            return f"date:{d}"
        case a.Lookup(kind=k, key=key):
            return f"lookup:{k}={key}"
        case a.SetAttribute(name=n, value=v):
            return f"set:{n}={v}"
        case a.SurveyResult(scores=s):
            return f"survey:{dict(s)}"
        case a.Route(queue=q):
            return f"route:{q}"
        case a.OfferCallback(queue=q, number=num):
            return f"callback:{q}:{num}"
        case a.Voicemail(queue=q, max_seconds=s):
            return f"voicemail:{q}:{s}"
        case a.Transfer(number=num):
            return f"transfer:{num}"
        case a.Hangup(reason=r):
            return f"hangup:{r}"
    raise AssertionError(action)


def run(session: IvrSession, specs: list[str]) -> list[a.IvrAction]:
    out: list[a.IvrAction] = []
    for i, spec in enumerate(specs):
        out += session.handle(event(spec, float(i)))
    return out


def run_summary(flow: Flow, specs: list[str], **kwargs: Any) -> list[str]:
    session = IvrSession(flow, kwargs.pop("channel", "voice"), 0.0, **kwargs)
    return [summary(x) for x in run(session, specs)]
