"""An operator's profiles file (RIGHTSDESK_PROFILES_FILE) is checked against the law: a Korean
period longer than the statute's, a partial profile or a malformed value is one line naming
the file, the line and the rule; the CLI exits 2, the web answers 503 without a traceback."""

import pytest

from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.profiles import ProfileError, builtin_profiles, profiles_with
from rightsdesk.extensions import db
from tests.helpers import make_app, organisation

KR_PERIODS = {k.value: 10 for k in K if k not in (K.UNCLASSIFIED, K.AUTOMATED_DECISION)}
KR_PERIODS["automated_decision"] = 30


def kr_file(tmp_path, notice: int = 10, **periods: str) -> str:
    """A whole KR profile; ``periods`` replace an inline table's contents by kind."""
    lines = ["# the operator's profiles", "[KR]", 'name = "PIPA (operator)"', 'calendar = "KR"']
    lines += ["roll_forward = true", "", "[KR.periods]"]
    for kind, days in KR_PERIODS.items():
        body = periods.get(kind, f'amount = {days}, unit = "days"')
        lines.append(f"{kind} = {{ {body} }}")
    lines += ["", "[KR.notice]", f"amount = {notice}", 'unit = "days"', ""]
    path = tmp_path / "profiles.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def refusing_app(database_url, tmp_path):
    """An app whose profiles file makes the Korean access period 30 days."""
    path = kr_file(tmp_path, access='amount = 30, unit = "days"')
    app = make_app(database_url, PROFILES_FILE=path)
    yield app, path
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def refusal(path: str) -> str:
    with pytest.raises(ProfileError) as caught:
        profiles_with(path)
    return str(caught.value)


def test_a_shorter_korean_profile_is_accepted(tmp_path):
    path = kr_file(tmp_path, notice=7, access='amount = 7, unit = "days"')
    merged = profiles_with(path)
    assert merged["KR"].period(K.ACCESS).amount == 7
    assert merged["KR"].notice.amount == 7
    assert merged["EU"] is builtin_profiles()["EU"]


def test_a_korean_access_period_of_30_days_is_refused_on_its_line(tmp_path):
    path = kr_file(tmp_path, access='amount = 30, unit = "days"')
    assert refusal(path) == (
        f"{path}:8: [KR] periods.access: 30 days may end after the statutory 10 days "
        "(법 §35③, 영 §41④); an operator may shorten it, never lengthen it"
    )


def test_a_longer_korean_notice_or_a_period_in_months_is_refused(tmp_path):
    assert refusal(kr_file(tmp_path, notice=11)).startswith(
        f"{tmp_path / 'profiles.toml'}:16: [KR] notice: 11 days may end after the statutory 10"
    )
    months = kr_file(tmp_path, deletion='amount = 1, unit = "months"')
    assert ":10: [KR] periods.deletion: 1 months may end after the statutory 10 days" in (
        refusal(months)
    )


def test_consent_withdrawal_may_go_beyond_the_target_only_with_a_reason(tmp_path):
    without = kr_file(tmp_path, consent_withdrawal='amount = 14, unit = "days"')
    problem = refusal(without)
    assert problem.startswith(f"{without}:12: [KR] periods.consent_withdrawal: 14 days")
    assert 'only with beyond_statute_reason = "<why>"' in problem
    reason = 'amount = 14, unit = "days", beyond_statute_reason = "설 연휴 물류 중단"'
    merged = profiles_with(kr_file(tmp_path, consent_withdrawal=reason))
    assert merged["KR"].period(K.CONSENT_WITHDRAWAL).amount == 14


def test_a_longer_automated_decision_extension_is_refused(tmp_path):
    path = kr_file(tmp_path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("[KR.extensions.automated_decision]\namount = 30\nmax_count = 3\n")
    assert refusal(path) == (
        f"{path}:20: [KR] extensions.automated_decision: 3 × 30 goes beyond the built-in 2 × 30 "
        "(법 §37-2: 30일씩 2회까지 연장); an operator may shorten it, never lengthen it"
    )


def test_a_partial_profile_names_its_line_and_the_missing_field(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('\n[JP]\nname = "APPI"\nroll_forward = true\n[JP.periods]\n')
    assert refusal(str(path)) == (
        f"{path}:2: [JP] has no 'notice' (required: name, roll_forward, periods, notice)"
    )


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ('amount = "ten", unit = "days"', 8, "[KR] periods.access.amount must be a whole number"),
        ('amount = 5, unit = "weeks"', 8, "[KR] periods.access.unit 'weeks' is not one of: days"),
        ('amount = 5, unit = "days", why = "x"', 8, "unknown key 'why' in [KR] periods.access"),
    ],
)
def test_a_malformed_value_names_its_line(tmp_path, body, line, problem):
    path = kr_file(tmp_path, access=body)
    assert refusal(path).startswith(f"{path}:{line}: {problem}")


def test_a_file_that_is_not_toml_names_its_line(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text('[KR]\nname = "x"\nroll_forward = yes\n')
    assert refusal(str(path)).startswith(f"{path}:3: not valid TOML: ")


def test_other_jurisdictions_are_held_to_their_own_statute(tmp_path):
    path = tmp_path / "profiles.toml"
    eu = builtin_profiles()["EU"]
    periods = "\n".join(f'{k.value} = {{ amount = 1, unit = "months" }}' for k in eu.periods)
    path.write_text(
        f'[EU]\nname = "GDPR"\nroll_forward = true\n[EU.periods]\n{periods}\n'
        '[EU.notice]\namount = 2\nunit = "months"\n'
    )
    assert refusal(str(path)).startswith(f"{path}:12: [EU] notice: 2 months may end after")


def test_every_command_that_loads_settings_prints_the_line_and_exits_2(refusing_app):
    app, path = refusing_app
    organisation(app)
    runner = app.test_cli_runner()
    for args in (
        ["deadline", "--received", "2025-09-24T10:00+09:00", "--kind", "access"],
        ["requests", "list"],
        ["policy", "promise", "--kind", "access", "--days", "7"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.strip().splitlines() == [
            f"{path}:8: [KR] periods.access: 30 days may end after the statutory 10 days "
            "(법 §35③, 영 §41④); an operator may shorten it, never lengthen it"
        ]


def test_the_web_answers_503_with_a_notice_and_logs_the_line(refusing_app, caplog):
    app, path = refusing_app
    for lang, words in (("ko", "설정 오류"), ("en", "configuration error")):
        response = app.test_client().get(f"/?lang={lang}")
        page = response.get_data(as_text=True)
        assert response.status_code == 503
        assert words in page and "Traceback" not in page
    assert f"{path}:8: [KR] periods.access" in caplog.text
    assert app.test_client().get("/admin/login").status_code == 503


# --- every statutory profile, not only Korea's ------------------------------------------------

CA_PERIODS = {k.value: '{ amount = 45, unit = "days" }' for k in K if k is not K.UNCLASSIFIED}
CA_PERIODS["suspension"] = '{ amount = 15, unit = "business_days" }'
CA_PERIODS["consent_withdrawal"] = '{ amount = 15, unit = "business_days" }'


def ca_file(tmp_path, *extra: str, **periods: str) -> str:
    """A whole US-CA profile with ``extra`` top-level lines; ``periods`` replace a kind's."""
    lines = ["[US-CA]", 'name = "CCPA (operator)"', "roll_forward = false", *extra]
    lines += ["", "[US-CA.periods]"]
    lines += [f"{kind} = {periods.get(kind, body)}" for kind, body in CA_PERIODS.items()]
    lines += ["", "[US-CA.notice]", "amount = 45", 'unit = "days"']
    lines += ["", "[US-CA.acknowledgement]", "amount = 10", 'unit = "business_days"', ""]
    path = tmp_path / "profiles.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


def test_a_california_profile_keeps_day_one_on_receipt_when_it_omits_the_rule(tmp_path):
    merged = profiles_with(ca_file(tmp_path))
    assert merged["US-CA"].receipt_day_counts and merged["US-CA"].timezone


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("receipt_day_counts = false", "receipt_day_counts"),
        ('timezone = "Asia/Seoul"', "timezone"),
        ('calendar = "KR"', "calendar"),
        ('clock_starts = "verification"', "clock_starts"),
    ],
)
def test_a_counting_rule_that_can_end_later_is_refused_on_its_line(tmp_path, line, key):
    path = ca_file(tmp_path, line)
    assert refusal(path).startswith(f"{path}:4: [US-CA] {key} differs from the statutory")


def test_a_longer_california_period_is_refused_like_a_korean_one(tmp_path):
    path = ca_file(tmp_path, suspension='{ amount = 20, unit = "business_days" }')
    assert "[US-CA] periods.suspension: 20 business_days may end after the statutory 15" in (
        refusal(path)
    )


def test_a_longer_eu_extension_is_refused(tmp_path):
    eu = builtin_profiles()["EU"]
    lines = ["[EU]", 'name = "GDPR (operator)"', "roll_forward = true", "", "[EU.periods]"]
    lines += [f'{k.value} = {{ amount = 1, unit = "months" }}' for k in eu.periods]
    lines += ["", "[EU.notice]", "amount = 1", 'unit = "months"', ""]
    lines += ["[EU.extensions.all]", "amount = 3", "max_count = 1", ""]
    path = tmp_path / "profiles.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert "1 × 3 goes beyond the built-in 1 × 2" in refusal(str(path))
