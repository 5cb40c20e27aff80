"""Classifying e-mailed requests from their wording: a table of what people write."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from rightsdesk.domain.classify import SUBJECT_WEIGHT, classify, scores
from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.requests.mail_parsing import parse_message, read_source

K = RequestKind
MAIL = Path(__file__).resolve().parent / "fixtures" / "mail"

# (subject, body, expected kind)
CASES = [
    # Korean, one per kind, as people write them
    ("개인정보 열람 요청드립니다", "", K.ACCESS),
    ("", "제 정보가 어떻게 쓰이는지 조회하고 싶습니다", K.ACCESS),
    ("개인정보 사본 발급 요청", "", K.ACCESS),
    ("수집 항목 확인 요청", "", K.ACCESS),
    ("수집 항목 확인을 요청합니다", "", K.ACCESS),
    ("주소 정정 요청", "", K.CORRECTION),
    ("", "전화번호를 수정해 주세요", K.CORRECTION),
    ("회원정보 변경", "", K.CORRECTION),
    ("회원 탈퇴 및 개인정보 삭제 요청", "", K.DELETION),
    ("", "제 정보를 모두 파기해 주십시오", K.DELETION),
    ("회원탈퇴", "", K.DELETION),
    ("개인정보 처리정지 요청", "", K.SUSPENSION),
    ("개인정보 처리 정지 요구", "", K.SUSPENSION),
    ("", "맞춤형 광고 목적의 처리를\n정지해 주세요", K.SUSPENSION),
    ("서비스 이용 중지 요청", "", K.SUSPENSION),
    ("마케팅 수신 동의 철회합니다", "", K.CONSENT_WITHDRAWAL),
    ("동의철회", "", K.CONSENT_WITHDRAWAL),
    ("", "개인정보 제3자 제공 동의를 철회합니다", K.CONSENT_WITHDRAWAL),
    ("광고 문자 수신거부", "", K.CONSENT_WITHDRAWAL),
    ("자동화된 결정에 대한 설명 요구", "", K.AUTOMATED_DECISION),
    ("자동 결정 거부", "", K.AUTOMATED_DECISION),
    ("", "대출 심사가 자동화된 의사결정이었는지 알려 주세요", K.AUTOMATED_DECISION),
    # English
    ("Subject access request", "", K.ACCESS),
    ("DSAR", "Please send me a copy of my data.", K.ACCESS),
    ("Question", "What data do you hold about me?", K.ACCESS),
    ("Please rectify my date of birth", "", K.CORRECTION),
    ("Update my address", "", K.CORRECTION),
    ("Incorrect name", "Please correct the spelling of my name.", K.CORRECTION),
    ("Please delete my account", "", K.DELETION),
    ("Right to erasure", "", K.DELETION),
    ("Leaving", "Please close my account.", K.DELETION),
    ("", "I want you to remove all of my personal data.", K.DELETION),
    ("Stop processing my data", "", K.SUSPENSION),
    ("I object to direct marketing", "", K.SUSPENSION),
    ("Restriction of processing", "", K.SUSPENSION),
    ("I withdraw my consent", "", K.CONSENT_WITHDRAWAL),
    ("Unsubscribe", "", K.CONSENT_WITHDRAWAL),
    ("Opt-out of marketing", "", K.CONSENT_WITHDRAWAL),
    ("Automated decision-making", "", K.AUTOMATED_DECISION),
    ("Question about profiling", "", K.AUTOMATED_DECISION),
    # normalisation: case, decomposed Hangul (macOS), full stop of a sentence
    ("SUBJECT ACCESS REQUEST", "", K.ACCESS),
    (unicodedata.normalize("NFD", "개인정보 삭제 요청"), "", K.DELETION),
    ("", unicodedata.normalize("NFD", "열람을 원합니다"), K.ACCESS),
    # English words only on word boundaries
    ("My stopwatch broke", "", None),
    ("Copyright notice", "", None),
    ("Objective feedback", "", None),
    ("Deleterious effects", "", None),
    ("Accessibility of your site", "", None),
    # nothing, or a tie: staff decide
    ("문의드립니다", "주문한 상품이 아직 도착하지 않았습니다.", None),
    ("", "", None),
    ("열람 및 정정 요청", "", None),
    ("Hello", "Please delete and correct my data.", None),
    # the subject outweighs the body
    (
        "개인정보 삭제 요청",
        "삭제 전에 보유 내역을 열람하고 싶고, 열람 후 삭제해 주세요.",
        K.DELETION,
    ),
    ("Access request", "And maybe delete it later, or delete the copy.", K.ACCESS),
    # quoted text of a reply is the previous message, not this one
    ("Re: 안내", "감사합니다.\n> 개인정보 삭제 요청이 접수되었습니다.", None),
    ("Re: 안내", "네, 정정해 주세요.\n> 삭제 요청이 접수되었습니다.\n> 삭제 예정일", K.CORRECTION),
    ("RE: 안내", "열람 원합니다.\n\n-----Original Message-----\n삭제 삭제 삭제", K.ACCESS),
    ("회신: 안내", "정정 부탁드려요\n----- 원본 메시지 -----\n보낸 사람: 삭제팀", K.CORRECTION),
]


@pytest.mark.parametrize(("subject", "body", "expected"), CASES)
def test_classify(subject: str, body: str, expected: RequestKind | None):
    assert classify(subject, body) == expected


def test_subject_mentions_weigh_more_than_body_mentions():
    in_subject = scores("삭제 요청", "")
    in_body = scores("", "삭제 요청")
    assert in_subject[K.DELETION] == SUBJECT_WEIGHT * in_body[K.DELETION] == SUBJECT_WEIGHT


def test_a_phrase_counts_once():
    assert scores("", "회원 탈퇴")[K.DELETION] == 1  # not "회원 탈퇴" and "탈퇴"
    assert scores("", "마케팅 수신 동의 철회")[K.CONSENT_WITHDRAWAL] == 2
    assert scores("", "subject access request")[K.ACCESS] == 1


def test_every_kind_a_subject_can_choose_is_scored_and_unclassified_never_guessed():
    assert set(scores("", "")) == set(SUBJECT_KINDS)
    assert K.UNCLASSIFIED not in {expected for _, _, expected in CASES}
    assert {expected for _, _, expected in CASES} - {None} == set(SUBJECT_KINDS)


# Every fixture message, parsed, classified as a privacy officer would file it.
FIXTURE_KINDS = {
    "01_access_utf8_qp.eml": K.ACCESS,
    "02_deletion_utf8_base64.eml": K.DELETION,
    "03_consent_euckr_8bit.eml": K.CONSENT_WITHDRAWAL,
    "04_correction_cp949_labelled_euckr.eml": K.CORRECTION,
    "05_suspension_iso2022kr.eml": K.SUSPENSION,
    "06_automated_decision_html_only.eml": K.AUTOMATED_DECISION,
    "07_english_access_crlf.eml": K.ACCESS,
    "08_unclassified_delivery.eml": None,
    "09_auto_reply.eml": None,
    "10_bounce_mailer_daemon.eml": None,
    "11_reply_threaded.eml": K.ACCESS,
    "12_attachment_pdf.eml": K.ACCESS,
    "13_unknown_charset_raw_headers.eml": K.CONSENT_WITHDRAWAL,
}


def test_every_eml_fixture_has_an_expected_kind():
    assert sorted(p.name for p in MAIL.glob("*.eml")) == sorted(FIXTURE_KINDS)


@pytest.mark.parametrize(("name", "expected"), sorted(FIXTURE_KINDS.items()))
def test_fixture_kind(name: str, expected: RequestKind | None):
    message = parse_message((MAIL / name).read_bytes())
    assert classify(message.subject, message.body) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("inbox.mbox", [K.ACCESS, K.DELETION, K.CONSENT_WITHDRAWAL]),
        ("maildir", [K.DELETION, K.SUSPENSION]),
    ],
)
def test_mailbox_kinds(source: str, expected: list[RequestKind]):
    kinds = []
    for _, raw in read_source(str(MAIL / source)):
        message = parse_message(raw)
        kinds.append(classify(message.subject, message.body))
    assert kinds == expected
