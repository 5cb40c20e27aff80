"""Jurisdiction profiles are data; a broken profile file is refused with its place named."""

import pytest

from rightsdesk.domain.deadlines import PolicyLongerThanLaw, check_policy_period
from rightsdesk.domain.kinds import SUBJECT_KINDS
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.profiles import (
    ClockStart,
    Period,
    ProfileError,
    Unit,
    builtin_profiles,
    load_profiles,
    parse_jurisdiction,
    profiles_with,
)

PROFILES = builtin_profiles()


def test_builtin_profiles_cover_every_kind_in_five_jurisdictions():
    assert set(PROFILES) == {"KR", "EU", "UK", "US-CA", "BR"}
    for profile in PROFILES.values():
        assert set(profile.periods) >= set(SUBJECT_KINDS)
        assert profile.notice.amount > 0
        assert all(p.basis for p in profile.periods.values()), profile.code


def test_korean_profile_matches_the_statute():
    kr = PROFILES["KR"]
    assert {k: (p.amount, p.unit) for k, p in kr.periods.items() if k != K.AUTOMATED_DECISION} == {
        k: (10, Unit.DAYS) for k in K if k != K.AUTOMATED_DECISION
    }
    assert kr.period(K.AUTOMATED_DECISION) == Period(
        30, Unit.DAYS, kr.period(K.AUTOMATED_DECISION).basis
    )
    assert kr.notice.amount == 10
    assert kr.clock_starts is ClockStart.RECEIPT
    assert not kr.pauses_while_awaiting_subject
    assert kr.midnight_counts and kr.roll_forward
    assert set(kr.extensions) == {K.ACCESS, K.AUTOMATED_DECISION}


def test_gdpr_profiles_extend_by_two_months_eu_pauses_uk_restarts():
    for code in ("EU", "UK"):
        profile = PROFILES[code]
        assert profile.period(K.ACCESS).unit is Unit.MONTHS
        assert profile.extension(K.DELETION).amount == 2
    assert PROFILES["EU"].pauses_while_awaiting_subject
    # UK GDPR Art. 12A: the clock starts again on the answer instead of pausing.
    assert not PROFILES["UK"].pauses_while_awaiting_subject
    assert PROFILES["UK"].clock_starts is ClockStart.LAST_ANSWER


def test_unknown_jurisdiction_names_the_accepted_ones():
    with pytest.raises(ValueError, match="accepted: BR, EU, KR, UK, US-CA"):
        parse_jurisdiction("JP", PROFILES)
    assert parse_jurisdiction("us-ca", PROFILES).code == "US-CA"


def test_an_operator_profile_file_adds_a_jurisdiction(tmp_path):
    extra = tmp_path / "profiles.toml"
    periods = "\n".join(f'{k.value} = {{ amount = 14, unit = "days" }}' for k in K)
    extra.write_text(
        f'[JP]\nname = "APPI"\ncalendar = "JP"\nroll_forward = true\n'
        f'[JP.periods]\n{periods}\n[JP.notice]\namount = 14\nunit = "days"\n'
    )
    merged = profiles_with(extra)
    assert merged["JP"].period(K.ACCESS).amount == 14
    assert "KR" in merged


def test_a_broken_profile_names_where():
    with pytest.raises(ProfileError, match=r"\[XX\] has no 'periods'"):
        load_profiles({"XX": {"name": "x", "roll_forward": True}})
    with pytest.raises(ProfileError, match=r"no period for"):
        load_profiles(
            {
                "XX": {
                    "name": "x",
                    "roll_forward": True,
                    "periods": {},
                    "notice": {"amount": 1, "unit": "days"},
                }
            }
        )


@pytest.mark.parametrize(("days", "ok"), [(7, True), (10, True), (11, False), (30, False)])
def test_a_policy_promise_may_shorten_never_lengthen(days, ok):
    promise = Period(days, Unit.DAYS)
    if ok:
        check_policy_period(PROFILES["KR"], K.ACCESS, promise)
    else:
        with pytest.raises(PolicyLongerThanLaw, match="never lengthen"):
            check_policy_period(PROFILES["KR"], K.ACCESS, promise)
