"""Survey validation and satisfaction figures, computed by hand on small sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccserver.crm.rules import surveys as sv
from ccserver.crm.rules.errors import InvalidSurveyAnswer
from ccserver.crm.rules.surveys import CsiConfig, SurveyResponse
from ccserver.errors import ConfigError


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("csat", [1, 5], [0, 6, 3.0, True, "4"]),
        ("nps", [0, 10], [-1, 11, None]),
        ("ces", [1, 7], [0, 8]),
    ],
)
def test_score_ranges(kind: str, good: list[int], bad: list[object]) -> None:
    for value in good:
        assert sv.check_score(kind, value) == value
    for wrong in bad:
        with pytest.raises(InvalidSurveyAnswer):
            sv.check_score(kind, wrong)


def test_validate_response() -> None:
    ok = SurveyResponse(csat=4, nps=9, ces=2, text="fine", ratings={"speed": 5})
    assert sv.validate_response(ok, ["speed"]) is ok
    for bad in [
        SurveyResponse(),
        SurveyResponse(text="   "),
        SurveyResponse(csat=9),
        SurveyResponse(text="x" * (sv.MAX_TEXT + 1)),
        SurveyResponse(ratings={"speed": 0}),
    ]:
        with pytest.raises(InvalidSurveyAnswer):
            sv.validate_response(bad)
    with pytest.raises(InvalidSurveyAnswer):
        sv.validate_response(SurveyResponse(ratings={"price": 3}), ["speed"])
    assert sv.validate_response(SurveyResponse(text="only words")).text == "only words"


def test_nps_by_hand() -> None:
    # 10, 9, 9 promoters; 8, 7 passives; 6, 0, 3 detractors; None ignored -> (3 - 3) / 8 = 0
    scores = [10, 9, 9, 8, 7, 6, 0, 3, None]
    b = sv.nps_breakdown(scores)
    assert (b.promoters, b.passives, b.detractors) == (3, 2, 3)
    assert sv.nps(scores) == 0.0
    assert sv.nps([10, 10, 10, 5]) == 50.0
    assert sv.nps([0]) == -100.0
    assert sv.nps([]) is None


def test_csat_and_ces_by_hand() -> None:
    assert sv.csat_percent([5, 4, 3, 1]) == 0.5
    assert sv.csat_mean([5, 4, 3, 1, None]) == 3.25
    assert sv.csat_percent([]) is None
    assert sv.ces_mean([1, 2, 6]) == 3.0


def test_csi_weighted_and_renormalised() -> None:
    config = CsiConfig({"resolution": 3, "speed": 1})  # weights 0.75 / 0.25
    # resolution mean 5 -> 100; speed mean 3 -> 50  => 0.75*100 + 0.25*50 = 87.5
    ratings = [{"resolution": 5, "speed": 2}, {"resolution": 5, "speed": 4}, {"other": 1}]
    assert sv.csi(ratings, config) == pytest.approx(87.5)
    # nobody rated speed: resolution alone carries the whole weight
    assert sv.csi([{"resolution": 1}], config) == 0.0
    assert sv.csi([{"other": 5}], config) is None


def test_detractor_rule_respects_consent() -> None:
    assert sv.is_detractor(SurveyResponse(nps=6))
    assert sv.is_detractor(SurveyResponse(csat=2))
    assert not sv.is_detractor(SurveyResponse(nps=7, csat=3))
    assert sv.detractor_followup_needed(SurveyResponse(nps=3), {"phone": True})
    assert not sv.detractor_followup_needed(SurveyResponse(nps=3), {"phone": False})
    assert not sv.detractor_followup_needed(SurveyResponse(nps=3), {"do_not_contact": True})
    assert sv.detractor_followup_needed(SurveyResponse(csat=1), {"email": True}, "email")
    assert not sv.detractor_followup_needed(SurveyResponse(nps=9), {"phone": True})


def test_parse_csi_names_key() -> None:
    assert sv.parse_csi({"weights": {"a": 1, "b": 3}}).normalised() == {"a": 0.25, "b": 0.75}
    with pytest.raises(ConfigError) as info:
        sv.parse_csi({"weights": {"a": "heavy"}}, "crm.toml")
    assert info.value.details["key"] == "surveys.csi.weights.a"
    with pytest.raises(ConfigError):
        sv.parse_csi({"weights": {"a": 0}})


@given(st.lists(st.one_of(st.none(), st.integers(0, 10)), max_size=60))
def test_nps_always_within_bounds(scores: list[int | None]) -> None:
    value = sv.nps(scores)
    if all(s is None for s in scores):
        assert value is None
    else:
        assert value is not None and -100.0 <= value <= 100.0


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 5)), max_size=30))
def test_csi_within_0_100(ratings: list[dict[str, int]]) -> None:
    value = sv.csi(ratings, CsiConfig({"a": 1, "b": 2, "c": 0.5}))
    if any(ratings):
        assert value is not None and -1e-9 <= value <= 100 + 1e-9
    else:
        assert value is None


def test_detractor_creates_followup_with_links_and_consent() -> None:
    now = 1_700_000_000.0
    response = SurveyResponse(
        nps=2,
        customer_id="cust-9",
        agent_id="a7",
        queue="billing",
        contact_id="k1",
        complaint_id="cmp-1",
    )
    fu = sv.followup_for_detractor(response, {"phone": True}, now, delay_hours=2)
    assert fu is not None
    assert (fu.customer_id, fu.questioner, fu.queue, fu.contact_id, fu.complaint_id) == (
        "cust-9",
        "a7",
        "billing",
        "k1",
        "cmp-1",
    )
    assert fu.scheduled_at == now + 2 * 3600 and fu.purpose == "detractor_recovery"
    assert fu.channel.value == "phone" and fu.outline[0].key == "reason"
    email = sv.followup_for_detractor(response, {"email": True}, now, channel="email")
    assert email is not None and email.channel.value == "email"
    assert sv.followup_for_detractor(response, {"phone": False}, now) is None
    happy = SurveyResponse(nps=10, csat=5, customer_id="cust-9")
    assert sv.followup_for_detractor(happy, {"phone": True}, now) is None
    anonymous = SurveyResponse(csat=1)
    assert sv.followup_for_detractor(anonymous, {"phone": True}, now) is None
