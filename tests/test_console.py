"""The staff console's guidance and wording (issue 19): what the request page offers now, the
days left, the timeline as sentences, staff words apart from the subject's, refusals and
citations in the reader's language, the English home page and policy."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask_babel import force_locale

from rightsdesk.domain.datamap import load_datamap
from rightsdesk.domain.kinds import RequestKind as K
from rightsdesk.domain.lifecycle import Status as S
from rightsdesk.domain.messages import StaffMessageError
from rightsdesk.domain.policy import processors_section
from rightsdesk.domain.workflow import Situation, days_left, next_steps
from rightsdesk.i18n import cite, staff_label, staff_message, staff_status_label, status_label
from rightsdesk.models import StaffRole
from tests.helpers import DEMO_MAP, act, new_request, sign_in

# --- what the page offers now ------------------------------------------------------------------


def test_an_unconfirmed_request_offers_only_confirmation_and_housekeeping():
    steps = next_steps(Situation(S.RECEIVED_UNVERIFIED, K.ACCESS, has_datamap=True))
    assert steps.primary == "verify"
    assert steps.allowed == {"verify", "note", "assign"}


def test_a_confirmed_access_request_with_a_data_map_collects_first_then_completes():
    before = next_steps(Situation(S.VERIFIED, K.ACCESS, has_datamap=True))
    assert before.primary == "collect"
    assert {"start", "offer", "complete", "refuse", "partial", "withdraw", "ask"} <= before.allowed
    after = next_steps(Situation(S.IN_PROGRESS, K.ACCESS, has_datamap=True, package_offered=True))
    assert after.primary == "complete"
    assert "start" not in after.allowed  # already started


def test_a_deletion_erases_first_and_a_suspension_stops_first():
    erase = next_steps(Situation(S.IN_PROGRESS, K.DELETION, has_datamap=True))
    assert erase.primary == "erasure"
    assert "collect" not in erase.allowed and "stop" not in erase.allowed
    stop = next_steps(Situation(S.VERIFIED, K.SUSPENSION, has_datamap=True))
    assert stop.primary == "stop"
    stopped = next_steps(
        Situation(S.IN_PROGRESS, K.SUSPENSION, has_datamap=True, processing_stopped=True)
    )
    assert stopped.primary == "complete"


def test_without_a_data_map_work_is_started_then_completed():
    assert next_steps(Situation(S.VERIFIED, K.ACCESS)).primary == "start"
    working = next_steps(Situation(S.IN_PROGRESS, K.ACCESS))
    assert working.primary == "complete"
    assert "collect" not in working.allowed and "offer" in working.allowed


def test_waiting_for_the_subject_presses_nothing_and_allows_no_completion():
    steps = next_steps(Situation(S.AWAITING_SUBJECT, K.ACCESS, has_datamap=True))
    assert steps.primary is None
    assert "complete" not in steps.allowed and "ask" not in steps.allowed
    assert {"refuse", "withdraw", "note"} <= steps.allowed


def test_a_closed_request_offers_notes_and_assignment_only():
    for status in (S.COMPLETED, S.REFUSED, S.WITHDRAWN, S.EXPIRED):
        steps = next_steps(Situation(status, K.DELETION, has_datamap=True))
        assert steps.primary is None and steps.allowed == {"note", "assign"}, status


def test_postponing_is_offered_only_while_the_jurisdiction_allows_another():
    assert "extend" in next_steps(Situation(S.IN_PROGRESS, K.ACCESS, can_extend=True)).allowed
    assert "extend" not in next_steps(Situation(S.IN_PROGRESS, K.ACCESS)).allowed
    deferred = next_steps(Situation(S.EXTENDED, K.ACCESS, deferred=True))
    assert deferred.primary == "deferral-end"


def test_every_allowed_action_is_in_exactly_one_group_or_the_next_step():
    steps = next_steps(Situation(S.IN_PROGRESS, K.ACCESS, has_datamap=True, can_extend=True))
    grouped = [name for names in steps.groups.values() for name in names]
    assert len(grouped) == len(set(grouped)) and steps.primary not in grouped
    assert set(steps.groups) <= {"communicate", "fulfil", "decide"}


# --- days left, counted in working days --------------------------------------------------------


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def test_days_left_count_working_days_and_mark_like_the_queue():
    friday = date(2026, 11, 27)
    left = days_left(friday, date(2026, 12, 4), weekdays)  # the next Friday
    assert (left.calendar_days, left.working_days, left.mark) == (7, 5, "")
    soon = days_left(friday, date(2026, 12, 1), weekdays)  # Tuesday: Mon and Tue left
    assert (soon.calendar_days, soon.working_days, soon.mark) == (4, 2, "soon")
    late = days_left(friday, date(2026, 11, 25), weekdays)
    assert (late.calendar_days, late.mark) == (-2, "overdue")
    assert days_left(friday, date(2026, 11, 25), weekdays, open_=False).mark == ""


# --- wording -----------------------------------------------------------------------------------


def test_staff_read_the_status_in_their_own_words_not_the_subjects(app):
    with app.test_request_context("/"), force_locale("en"):
        assert status_label("awaiting_subject") == "Waiting for your answer"
        assert staff_status_label("awaiting_subject") == "Waiting for the subject's answer"
        assert staff_status_label("withdrawn") == "Withdrawn by the subject"
    with app.test_request_context("/"), force_locale("ko"):
        assert staff_status_label(S.EXTENDED) == "연기됨 (통지 발송)"
        assert staff_label("step", "done") == "완료"
        assert staff_label("method", "anonymise") == "익명 처리"
        assert staff_label("channel", "web") == "웹 양식"
        assert staff_label("role", StaffRole.HANDLER) == "담당자"
        assert staff_label("channel", "carrier-pigeon") == "carrier-pigeon"  # unknown: as stored


def test_a_refusal_is_english_on_the_command_line_and_translated_for_staff(app):
    error = StaffMessageError("%(reference)s is closed", reference="RD-2026-000009")
    assert str(error) == "RD-2026-000009 is closed"
    with app.test_request_context("/"), force_locale("ko"):
        # The particle follows the reference's last sound: 9 (구) takes 는.
        assert staff_message(error) == "RD-2026-000009는 종결되었습니다"
        assert staff_message(ValueError("plain")) == "plain"


def test_citations_are_english_for_english_readers_with_the_korean_beside(app):
    with app.test_request_context("/"):
        assert cite("법 §36① 단서", "en") == "PIPA §36① proviso (법 §36① 단서)"
        assert cite("법 §35④1", "ko") == "법 §35④1"
        assert cite("GDPR Art. 12(4)", "en") == "GDPR Art. 12(4)"


# --- the console in use ------------------------------------------------------------------------


def test_the_request_page_shows_the_next_step_and_folds_the_rest(app):
    client = sign_in(app, StaffRole.HANDLER)
    reference = new_request(app)  # confirmed, in the queue
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    next_step = page[page.index('id="next-step"') : page.index('class="action-groups')]
    assert 'id="do-start"' in next_step and 'id="do-complete"' not in next_step
    assert '<details class="action-group card" id="group-decide"' in page
    assert 'id="do-complete"' in page and 'id="do-verify"' not in page
    assert 'id="days-left"' in page
    # The timeline speaks; the raw event is folded beside each sentence.
    timeline = page[page.index('id="timeline"') :]
    assert "요청을 접수함 (웹 양식)" in timeline
    assert '<details class="raw">' in timeline and "request.received" in timeline


def test_a_refused_action_is_explained_in_korean_and_kept_in_english_on_the_line(app):
    client = sign_in(app, StaffRole.HANDLER)
    reference = new_request(app, status=S.IN_PROGRESS)
    response = act(client, reference, "complete", outcome="   ", step="send")
    assert response.status_code == 302
    page = client.get(f"/admin/requests/{reference}").get_data(as_text=True)
    assert "처리 결과를 적어야 합니다" in page
    assert "is required" not in page


def test_the_english_home_page_has_no_untranslated_korean_legal_notes(app):
    client = app.test_client()
    page = client.get("/?lang=en").get_data(as_text=True)
    main = page[page.index("<main>") : page.index("</main>")]
    text = re.sub(r"<[^>]+>", " ", main)
    # Hangul only inside parentheses beside its English (e.g. "'without delay' (지체 없이)").
    outside = re.sub(r"\([^()]*\)", " ", text)
    assert re.findall(r"[\uac00-\ud7a3]+", outside) == []
    assert "PIPA §35③" in text


def test_recipients_purposes_are_english_in_the_english_policy():
    datamap = load_datamap(DEMO_MAP.read_text(encoding="utf-8"), str(DEMO_MAP))
    english = processors_section(datamap.recipients, "en")
    korean = processors_section(datamap.recipients, "ko")
    assert "delivery of orders" in english and "상품 배송" not in english
    assert "상품 배송" in korean


@pytest.mark.parametrize("unknown", ["purpose_fr"])
def test_an_unknown_recipient_key_is_still_refused(unknown):
    text = DEMO_MAP.read_text(encoding="utf-8").replace(
        'purpose_en = "delivery of orders"', f'{unknown} = "livraison"'
    )
    with pytest.raises(ValueError, match=unknown):
        load_datamap(text, "map.toml")
