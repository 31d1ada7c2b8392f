from __future__ import annotations

import hashlib

import pytest

from ccserver.ami.agi import (
    decode_agi_env,
    encode_agi_env,
    encode_agi_result,
    md5_login_key,
    parse_agi_result,
)
from ccserver.ami.retry import (
    ConstantBackoff,
    EqualJitterBackoff,
    ExponentialBackoff,
    NoBackoff,
    Retry,
)

ENV = (
    "agi_request%3A%20async%0Aagi_channel%3A%20Local%2Fs%40from-customer-00000003%3B2%0A"
    "agi_calleridname%3A%20Test%20Customer%0Aagi_accountcode%3A%20%0A%0A"
)


def test_decode_env_from_fixture() -> None:
    env = decode_agi_env(ENV)
    assert env == {
        "agi_request": "async",
        "agi_channel": "Local/s@from-customer-00000003;2",
        "agi_calleridname": "Test Customer",
        "agi_accountcode": "",
    }
    assert encode_agi_env(env) == ENV


@pytest.mark.parametrize(
    ("wire", "code", "result", "data", "extras"),
    [
        ("200%20result%3D0%0A", 200, "0", None, {}),
        ("200%20result%3D1%20(42)%0A", 200, "1", "42", {}),
        ("200%20result%3D0%20endpos%3D2000%0A", 200, "0", None, {"endpos": "2000"}),
        ("200%20result%3D5%20(timeout)%0A", 200, "5", "timeout", {}),
        ("200%20result%3D-1%20endpos%3D0%0A", 200, "-1", None, {"endpos": "0"}),
        ("510%20Invalid%20or%20unknown%20command%0A", 510, None, "Invalid or unknown command", {}),
    ],
)
def test_parse_agi_result(
    wire: str, code: int, result: str | None, data: str | None, extras: dict[str, str]
) -> None:
    parsed = parse_agi_result(wire)
    assert (parsed.code, parsed.result, parsed.data, parsed.extras) == (code, result, data, extras)
    assert parsed.ok == (code == 200 and result != "-1")


def test_encode_agi_result_keeps_parentheses() -> None:
    assert encode_agi_result("200 result=1 (42)") == "200%20result%3D1%20(42)%0A"
    assert parse_agi_result("garbage").code == 0
    assert parse_agi_result(encode_agi_result("200 result=123 (timeout)")).digits == "123"


def test_md5_key() -> None:
    assert md5_login_key("784054720", "ccsecret") == hashlib.md5(b"784054720ccsecret").hexdigest()


def test_backoffs() -> None:
    exp = ExponentialBackoff(cap=1.0, base=0.1)
    assert [exp.compute(n) for n in (1, 2, 3, 4, 5, 10_000)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )
    assert NoBackoff().compute(3) == 0.0
    assert ConstantBackoff(0.5).compute(9) == 0.5
    jitter = EqualJitterBackoff(cap=1.0, base=0.4)
    assert all(0.2 <= jitter.compute(1) <= 0.4 for _ in range(50))


def test_retry_limits() -> None:
    limited = Retry(ConstantBackoff(0.1), retries=2)
    assert [limited.allows(n) for n in (1, 2, 3)] == [True, True, False]
    assert Retry(retries=-1).allows(10**6)
    assert limited.delay(1) == 0.1
