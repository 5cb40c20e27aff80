"""Inbound mail parsing: every fixture decodes to the text a person wrote, and nothing raises."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rightsdesk.requests.mail_parsing import (
    MAX_BODY_CHARS,
    Attachment,
    InboundMessage,
    decode_bytes,
    decode_words,
    html_to_text,
    parse_message,
    read_source,
)

ROOT = Path(__file__).resolve().parent.parent
MAIL = Path(__file__).resolve().parent / "fixtures" / "mail"
KST = timezone(timedelta(hours=9))
TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def fixture(name: str) -> InboundMessage:
    return parse_message((MAIL / name).read_bytes())


# name: subject, from_address, from_name, message_id, date, words the body must contain
FIXTURES = {
    "01_access_utf8_qp.eml": (
        "개인정보 열람 요청드립니다",
        "minsu.kim@example.com",
        "김민수",
        "<20250929091245.3f1a7c@mail.example.com>",
        datetime(2025, 9, 29, 9, 12, 45, tzinfo=KST),
        ["저의 개인정보 열람을 요청드립니다.", "- 수집·보유하고 있는 개인정보 항목과 내용"],
    ),
    "02_deletion_utf8_base64.eml": (
        "회원 탈퇴 및 개인정보 삭제 요청",
        "seoyeon.lee@example.com",
        "이서연",
        "<CAF3x9kq2Lw8+Zr7T0dYbQ@mail.example.com>",
        datetime(2025, 9, 30, 22, 41, 7, tzinfo=KST),
        ["회원 탈퇴를 신청하며,", "삭제(파기)해 주시기 바랍니다."],
    ),
    "03_consent_euckr_8bit.eml": (
        "마케팅 수신 동의 철회합니다",
        "jihoon.park@example.net",
        "박지훈",
        "<20251001075530.B2C1.jihoon.park@example.net>",
        datetime(2025, 10, 1, 7, 55, 30, tzinfo=KST),
        ["광고성 정보(이메일·문자) 수신 동의를 철회합니다."],
    ),
    "04_correction_cp949_labelled_euckr.eml": (
        "주소 정정 요청 (똠방각하빌라 302호)",
        "haneul.jung@example.kr",
        "정하늘",
        "<1759378800.771@webmail.example.kr>",
        datetime(2025, 10, 2, 13, 20, tzinfo=KST),
        ["새 주소: 서울특별시 마포구 똠방각하빌라 302호", "아래와 같이 정정해 주세요."],
    ),
    "05_suspension_iso2022kr.eml": (
        "개인정보 처리정지 요청",
        "sejin.oh@example.org",
        "오세진",
        "<19991003.oh.sejin@old-mailer.example.org>",
        datetime(2025, 10, 3, 10, 0, tzinfo=KST),
        ["저의 개인정보 처리를 정지해 주시기 바랍니다.", "제37조에 따른 처리정지 요구입니다."],
    ),
    "06_automated_decision_html_only.eml": (
        "자동화된 결정에 대한 설명 요구",
        "haeun.song@example.net",
        "송하은",
        "<a1b2c3d4e5.html@mailer.example.net>",
        datetime(2025, 10, 6, 16, 45, 12, tzinfo=KST),
        [
            "안녕하세요.\n",
            "지난주 대출 한도 심사에서 거절되었다는 안내를 받았습니다.",
            "제37조의2에 따라\n결정의 기준과 절차에 대한 설명을 요구합니다.",
            "- 사용된 개인정보 항목\n- 주요 판단 기준",
            "송하은 드림",
        ],
    ),
    "07_english_access_crlf.eml": (
        "Subject access request",
        "jane.doe@example.com",
        "Jane Doe",
        "<DB9PR01MB7354.EXAMPLE@DB9PR01MB7354.eurprd01.prod.example.com>",
        datetime(2025, 10, 7, 8, 3, 59, tzinfo=UTC),
        ["I am making a subject access request.\nPlease send me a copy of all personal data"],
    ),
    "08_unclassified_delivery.eml": (
        "문의드립니다",
        "doyoon.kang@example.com",
        "강도윤",
        "<6a0f.doyoon@example.com>",
        datetime(2025, 10, 8, 11, 11, 11, tzinfo=KST),
        ["무선 이어폰(주문번호 20250922-000731)이 아직 도착하지 않았습니다."],
    ),
    "09_auto_reply.eml": (
        "[부재중] 자동 회신: 9월 29일~10월 3일 휴가 중입니다",
        "jia.yoon@example.org",
        "윤지아",
        "<autoreply.20250929100231@example.org>",
        datetime(2025, 9, 29, 10, 2, 31, tzinfo=KST),
        ["현재 휴가 중이라 메일 확인이 어렵습니다."],
    ),
    "10_bounce_mailer_daemon.eml": (
        "Undelivered Mail Returned to Sender",
        "mailer-daemon@mx.demo-shop.co.kr",
        "Mail Delivery System",
        "<20251009000001.4B1C21A0E3@mx.demo-shop.co.kr>",
        datetime(2025, 10, 9, 9, 0, 1, tzinfo=KST),
        ["your message could not\nbe delivered", "User unknown"],
    ),
    "11_reply_threaded.eml": (
        "Re: [데모 쇼핑] 개인정보 열람 요청 접수 안내 (RD-2025-0042)",
        "minsu.kim@example.com",
        "김민수",
        "<20250929103000.88e2@mail.example.com>",
        datetime(2025, 9, 29, 10, 30, tzinfo=KST),
        ["휴대전화 번호 뒷자리를 알려드립니다: 5678", "> 처리 기한: 2025년 10월 13일"],
    ),
    "12_attachment_pdf.eml": (
        "대리인 개인정보 열람 청구 (위임장 첨부)",
        "chaewon.lim@example.com",
        "임채원",
        "<000d01dc3a5e$7f1b2c30$@example.com>",
        datetime(2025, 10, 10, 14, 5, 9, tzinfo=KST),
        ["어머니(홍순자)의 개인정보 열람 청구를 대리하는 임채원입니다."],
    ),
    "13_unknown_charset_raw_headers.eml": (
        "광고 메일 수신 거부",
        "seojin.moon@example.co.kr",
        "문서진",
        "<20251011202020.moon@webmail.example.co.kr>",
        datetime(2025, 10, 11, 20, 20, 20, tzinfo=KST),
        ["광고 메일을 그만 받고 싶습니다. 수신 거부 처리 부탁드립니다."],
    ),
}


def test_every_eml_fixture_is_in_the_table():
    assert sorted(p.name for p in MAIL.glob("*.eml")) == sorted(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_headers_and_body_decode(name: str):
    subject, address, display, message_id, date, body_parts = FIXTURES[name]
    message = fixture(name)
    assert message.subject == subject
    assert message.from_address == address
    assert message.from_name == display
    assert message.message_id == message_id
    assert message.date == date
    assert message.date is not None and message.date.utcoffset() == date.utcoffset()
    for part in body_parts:
        assert part in message.body
    assert "\ufffd" not in message.subject + message.body  # nothing was decoded by guesswork


AUTOMATED = {
    "09_auto_reply.eml": "Auto-Submitted: auto-replied",
    "10_bounce_mailer_daemon.eml": "bounce from MAILER-DAEMON",
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_only_auto_replies_and_bounces_are_automated(name: str):
    message = fixture(name)
    assert message.automated_reason == AUTOMATED.get(name)
    assert message.is_automated is (name in AUTOMATED)


def test_html_only_body_is_readable_text_without_script_or_style():
    body = fixture("06_automated_decision_html_only.eml").body
    assert "<" not in body and "&nbsp;" not in body
    assert "추적 스크립트" not in body  # <script>
    assert "맑은 고딕" not in body and "margin" not in body  # <style>
    assert "메일 본문" not in body  # <title>
    assert body.startswith("안녕하세요.\n\n지난주")


def test_alternative_prefers_plain_text():
    body = fixture("07_english_access_crlf.eml").body
    assert body.endswith("Kind regards,\nJane Doe")
    assert "third parties" in body  # only the plain part says it
    assert "\r" not in body


def test_reply_keeps_thread_headers():
    message = fixture("11_reply_threaded.eml")
    assert message.in_reply_to == "<rd-2025-0042.ack@demo-shop.co.kr>"
    assert message.references == (
        "<20250929091245.3f1a7c@mail.example.com>",
        "<rd-2025-0042.ack@demo-shop.co.kr>",
    )
    assert fixture("01_access_utf8_qp.eml").in_reply_to is None
    assert fixture("01_access_utf8_qp.eml").references == ()


def test_attachments_keep_names_types_and_bytes():
    message = fixture("12_attachment_pdf.eml")
    pdf, jpeg = message.attachments
    assert pdf.filename == "위임장.pdf"  # RFC 2231
    assert pdf.content_type == "application/pdf"
    assert pdf.data.startswith(b"%PDF-1.4") and pdf.data.rstrip().endswith(b"%%EOF")
    assert jpeg == Attachment("신분증사본.jpg", "image/jpeg", TINY_JPEG)  # RFC 2047, EUC-KR
    assert "위임장과 본인 신분증 사본을 첨부합니다." in message.body
    assert "%PDF" not in message.body


def test_bounce_keeps_report_and_returned_message_as_attachments_not_body():
    message = fixture("10_bounce_mailer_daemon.eml")
    types = [a.content_type for a in message.attachments]
    assert types == ["message/delivery-status", "message/rfc822"]
    assert b"Status: 5.1.1" in message.attachments[0].data
    assert b"<rd-2025-0044.ack@demo-shop.co.kr>" in message.attachments[1].data
    assert "RD-2025-0044" not in message.body


ATTACHMENT_TYPES = {
    "10_bounce_mailer_daemon.eml": ["message/delivery-status", "message/rfc822"],
    "12_attachment_pdf.eml": ["application/pdf", "image/jpeg"],
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_only_real_attachments_are_attachments(name: str):
    types = [a.content_type for a in fixture(name).attachments]
    assert types == ATTACHMENT_TYPES.get(name, [])


def test_fixtures_are_what_the_generator_writes(tmp_path: Path):
    subprocess.run(
        [sys.executable, str(MAIL / "make_fixtures.py"), str(tmp_path)], check=True, timeout=60
    )
    generated = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert generated, "the generator wrote nothing"
    for name in sorted(generated):
        assert (MAIL / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"{name} differs: run python tests/fixtures/mail/make_fixtures.py"
        )


# --- decoding -----------------------------------------------------------------------------------

DECODE = [
    ("한글 요청".encode("euc-kr"), "euc-kr", "한글 요청"),
    ("똠방각하".encode("cp949"), "euc-kr", "똠방각하"),  # CP949-only syllable under an EUC-KR label
    ("똠방각하".encode("cp949"), "ks_c_5601-1987", "똠방각하"),  # Outlook's label for CP949
    ("삭제 요청".encode("iso2022_kr"), "ISO-2022-KR", "삭제 요청"),
    ("삭제 요청".encode(), "x-unknown", "삭제 요청"),
    ("삭제 요청".encode("cp949"), "x-unknown", "삭제 요청"),
    ("삭제 요청".encode(), "iso-8859-1", "삭제 요청"),  # mislabelled UTF-8 is not mojibake
    ("café".encode("latin-1"), "iso-8859-1", "café"),  # a true Latin-1 text stays Latin-1
    ("삭제 요청".encode(), "us-ascii", "삭제 요청"),
    ("삭제".encode(), None, "삭제"),
    ("삭제".encode("cp949"), None, "삭제"),
    (b"plain", "base64", "plain"),  # a codec that is not a text encoding
    (b"plain", "utf-8\x00", "plain"),
    (b"a\x00b", "utf-8", "ab"),
    (b"\\ud800", "raw_unicode_escape", "\ufffd"),  # no lone surrogate gets through
]


@pytest.mark.parametrize(("data", "declared", "expected"), DECODE)
def test_decode_bytes(data: bytes, declared: str | None, expected: str):
    assert decode_bytes(data, declared) == expected


def test_decode_bytes_replaces_what_no_charset_decodes():
    text = decode_bytes(b"ok \xff\xff\xff", "utf-8")
    assert text.startswith("ok ") and "\ufffd" in text


WORDS = [
    ("=?UTF-8?B?6rCc7J247KCV67O0?=", "개인정보"),
    ("=?utf-8?q?=EC=82=AD=EC=A0=9C_=EC=9A=94=EC=B2=AD?=", "삭제 요청"),
    ("Re: =?UTF-8?B?7JqU7LKt?= (RD-1)", "Re: 요청 (RD-1)"),
    ("=?UTF-8?B?7JqU?= =?UTF-8?B?7LKt?=", "요청"),  # whitespace between words is dropped
    ("=?UTF-8?B?7Jo=?=\n =?UTF-8?B?lOyyrQ==?=", "요청"),  # split inside a character
    ("=?EUC-KR?B?u+i/5A==?=", "삭요"),
    ("=?utf-8*ko?B?7JqU7LKt?=", "요청"),  # RFC 2231 language tag
    ("=?x-bogus?B?7JqU7LKt?=", "요청"),  # unknown charset: UTF-8 fallback
    ("=?UTF-8?B?7JqU7L?=", "요\ufffd"),  # truncated base64 and character: no exception
    ("=?UTF-8?X?abc?= plain", "=?UTF-8?X?abc?= plain"),  # not an encoded word
    ("no words at all", "no words at all"),
]


@pytest.mark.parametrize(("header", "expected"), WORDS)
def test_decode_words(header: str, expected: str):
    assert decode_words(header) == expected


# --- headers, one message at a time --------------------------------------------------------------


def message(*headers: str, body: str = "본문\n") -> bytes:
    head = "\n".join(headers) + "\nContent-Type: text/plain; charset=utf-8\n"
    return head.encode("utf-8") + b"\n" + body.encode("utf-8")


def test_display_name_loses_cr_and_lf_and_subject_becomes_one_line():
    raw = message(
        "From: =?utf-8?q?Kim=0D=0ABcc=3A_evil=40example=2Ecom?= <kim@example.com>",
        "Subject: =?utf-8?q?=EC=97=B4=EB=9E=8C=0D=0A=EC=9A=94=EC=B2=AD?=\n  (2)",
    )
    parsed = parse_message(raw)
    assert parsed.from_name == "KimBcc: evil@example.com"
    assert parsed.from_address == "kim@example.com"
    assert parsed.subject == "열람 요청  (2)"


def test_an_encoded_display_name_cannot_supply_the_address():
    raw = message('From: "=?utf-8?q?ceo=40demo-shop=2Eco=2Ekr?=" <someone@example.com>')
    parsed = parse_message(raw)
    assert parsed.from_address == "someone@example.com"
    assert parsed.from_name == "ceo@demo-shop.co.kr"


def test_an_address_hidden_in_one_encoded_word_is_still_found():
    encoded = "=?UTF-8?B?6rmA66+87IiYIDxtaW5zdUBleGFtcGxlLmNvbT4=?="  # 김민수 <minsu@example.com>
    parsed = parse_message(message(f"From: {encoded}"))
    assert parsed.from_address == "minsu@example.com"
    assert parsed.from_name == "김민수"


@pytest.mark.parametrize(
    "from_header",
    [None, "From: ", "From: not an address", "From: <>", "From: =?utf-8?q?=FF?="],
)
def test_missing_or_unusable_sender_is_none(from_header: str | None):
    headers = ["Subject: 열람 요청"] + ([from_header] if from_header else [])
    parsed = parse_message(message(*headers))
    assert parsed.from_address is None
    assert parsed.subject == "열람 요청"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Message-ID: <abc@x>", "<abc@x>"),
        ("Message-ID:\n  <folded.id@example.com>  ", "<folded.id@example.com>"),
        ("Message-ID: <a@b> (comment)", "<a@b>"),
        ("Message-ID: bare-id@x", "bare-id@x"),
        ("Message-ID: ", None),
        ("X-Other: <not@it>", None),
    ],
)
def test_message_id(header: str, expected: str | None):
    assert parse_message(message(header)).message_id == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Date: Tue, 30 Sep 2025 22:41:07 +0900", datetime(2025, 9, 30, 13, 41, 7, tzinfo=UTC)),
        ("Date: Tue, 30 Sep 2025 13:41:07 -0000", datetime(2025, 9, 30, 13, 41, 7, tzinfo=UTC)),
        ("Date: 30 Sep 2025 13:41 GMT", datetime(2025, 9, 30, 13, 41, tzinfo=UTC)),
        ("Date: 2025년 9월 30일", None),
        ("Date: Tue, 99 Foo 2025 99:99:99 +9999", None),
        ("X-Date: Tue, 30 Sep 2025 13:41:07 +0000", None),
    ],
)
def test_date_is_aware_or_none(header: str, expected: datetime | None):
    parsed = parse_message(message(header)).date
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


AUTOMATED_HEADERS = [
    (["Auto-Submitted: auto-generated"], "Auto-Submitted: auto-generated"),
    (["Auto-Submitted: auto-replied (vacation)"], "Auto-Submitted: auto-replied (vacation)"),
    (["Auto-Submitted: no"], None),
    (["From: postmaster@mail.example.com"], "bounce from postmaster"),
    (["From: Mail Delivery Subsystem <MAILER-DAEMON>"], "bounce from MAILER-DAEMON"),
    (["Return-Path: < >"], "empty Return-Path"),
    (["Return-Path: <kim@example.com>"], None),
    (["X-Autoreply: yes"], "X-Autoreply: yes"),
    (["X-Autorespond: Out of office"], "X-Autorespond: Out of office"),
    (["Precedence: bulk"], "Precedence: bulk"),
    (["Precedence: junk"], "Precedence: junk"),
    (["Precedence: auto_reply"], "Precedence: auto_reply"),
    (["Precedence: list"], None),
    (["From: Kim <kim@example.com>", "Subject: 부재중"], None),  # wording alone proves nothing
]


@pytest.mark.parametrize(("headers", "reason"), AUTOMATED_HEADERS)
def test_automated_detection(headers: list[str], reason: str | None):
    parsed = parse_message(message(*headers))
    assert parsed.automated_reason == reason
    assert parsed.is_automated is (reason is not None)


def test_read_receipt_report_is_automated():
    raw = (
        b"From: kim@example.com\n"
        b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nDisplayed.\n--b--\n"
    )
    parsed = parse_message(raw)
    assert parsed.automated_reason == "multipart/report (disposition-notification)"
    assert parsed.body == "Displayed."


# --- bodies -------------------------------------------------------------------------------------


def multipart(subtype: str, *parts: tuple[str, str]) -> bytes:
    chunks = [f"Content-Type: multipart/{subtype}; boundary=XYZ\n\n"]
    for content_type, text in parts:
        chunks.append(f"--XYZ\nContent-Type: {content_type}; charset=utf-8\n\n{text}\n")
    chunks.append("--XYZ--\n")
    return "".join(chunks).encode("utf-8")


def test_alternative_uses_html_when_plain_is_empty():
    raw = multipart("alternative", ("text/plain", "  "), ("text/html", "<p>정정 요청</p>"))
    assert parse_message(raw).body == "정정 요청"


def test_alternative_prefers_plain_even_when_html_comes_first():
    raw = multipart("alternative", ("text/html", "<p>HTML</p>"), ("text/plain", "PLAIN"))
    assert parse_message(raw).body == "PLAIN"


def test_mixed_text_parts_are_all_kept_in_order():
    raw = multipart("mixed", ("text/html", "<p>첫째</p>"), ("text/plain", "둘째"))
    assert parse_message(raw).body == "첫째\n\n둘째"


def test_body_is_capped():
    raw = message(body="가" * (MAX_BODY_CHARS * 3))
    assert len(parse_message(raw).body) == MAX_BODY_CHARS


def test_html_to_text_survives_markup_that_makes_html_parser_assert():
    text = html_to_text("<p>열람 요청</p><![foo bar <script>x()</script>")
    assert "열람 요청" in text and "x()" not in text


def test_html_to_text_unclosed_title_does_not_hide_the_body():
    assert html_to_text("<title>제목<body><p>삭제 요청</p>") == "삭제 요청"


def test_a_header_that_makes_the_default_policy_raise_falls_back():
    # On CPython 3.11 email.policy.default raises IndexError parsing this Content-Type.
    raw = (
        "From: 김민수 <kim@example.com>\n"
        "Subject: =?UTF-8?B?6rCc7J247KCV67O0IOyCreygnCDsmpTssq0=?=\n"
        "Content-Type: text/plain; charset=utf-8; x*\n\n"
        "삭제해 주세요\n"
    ).encode()
    parsed = parse_message(raw)
    assert (parsed.subject, parsed.from_address, parsed.body) == (
        "개인정보 삭제 요청",
        "kim@example.com",
        "삭제해 주세요",
    )


@pytest.mark.parametrize(
    "raw", [b"", b"\x00", b"\xff\xfe\x00\x00", b"\n\n\n", b":", b"From:", b"--\n--\n"]
)
def test_degenerate_input_gives_an_empty_message(raw: bytes):
    parsed = parse_message(raw)
    assert parsed.subject == ""
    assert parsed.from_address is None
    assert parsed.is_automated is False
    assert isinstance(parsed.body, str) and "\x00" not in parsed.body


# --- never raises -------------------------------------------------------------------------------

TOKENS = [
    b"=?utf-8?b?",
    b"=?euc-kr?q?=B0",
    b"?=",
    b"\r\n",
    b"\n\n",
    b"--XYZ\n",
    b"Content-Type: multipart/mixed; boundary=XYZ\n",
    b"Content-Type: text/html; charset=x*\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Disposition: attachment; filename*=utf-8''%E",
    b"From: <>\n",
    b'"',
    b"<",
    b"\x00",
    b"\xff",
    b"<![foo ",
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        position = rng.randrange(len(out) + 1)
        operation = rng.randrange(4)
        if operation == 0 and out:
            out[min(position, len(out) - 1)] = rng.randrange(256)
        elif operation == 1:
            out[position:position] = rng.randbytes(rng.randint(1, 40))
        elif operation == 2:
            del out[position : position + rng.randint(1, 80)]
        else:
            out[position:position] = rng.choice(TOKENS)
    return bytes(out)


def fuzz_inputs() -> list[bytes]:
    rng = random.Random(1234)
    fixtures = [p.read_bytes() for p in sorted(MAIL.glob("*.eml"))]
    inputs = [rng.randbytes(rng.randint(0, 2_000)) for _ in range(200)]
    inputs += [b"".join(rng.choices(TOKENS, k=rng.randint(1, 40))) for _ in range(100)]
    inputs += [mutate(rng, data) for data in fixtures for _ in range(25)]
    inputs += [data[: rng.randrange(len(data))] for data in fixtures]
    return inputs


def assert_clean(text: str) -> None:
    assert isinstance(text, str)
    assert "\x00" not in text
    text.encode("utf-8")  # no lone surrogates


def test_parse_message_never_raises_and_returns_clean_values():
    inputs = fuzz_inputs()
    assert len(inputs) > 500
    for raw in inputs:
        parsed = parse_message(raw)
        assert isinstance(parsed, InboundMessage)
        texts = [parsed.subject, parsed.body, parsed.message_id, parsed.from_address]
        texts += [parsed.from_name, parsed.in_reply_to, *parsed.references]
        texts += [a.filename for a in parsed.attachments]
        for text in texts:
            if text is not None:
                assert_clean(text)
        assert "\n" not in parsed.subject and "\r" not in parsed.subject
        assert parsed.from_name is None or not set("\r\n") & set(parsed.from_name)
        assert len(parsed.body) <= MAX_BODY_CHARS
        assert parsed.date is None or parsed.date.tzinfo is not None
        assert isinstance(parsed.references, tuple)
        assert all(isinstance(a.data, bytes) for a in parsed.attachments)
        assert isinstance(parsed.is_automated, bool)


# --- sources ------------------------------------------------------------------------------------


def test_read_source_reads_one_plain_file():
    path = MAIL / "03_consent_euckr_8bit.eml"
    assert list(read_source(str(path))) == [(str(path), path.read_bytes())]


def test_read_source_reads_every_message_of_an_mbox():
    path = MAIL / "inbox.mbox"
    found = [(label, parse_message(raw)) for label, raw in read_source(str(path))]
    assert [label for label, _ in found] == [f"{path}#0", f"{path}#1", f"{path}#2"]
    assert [(m.subject, m.from_address) for _, m in found] == [
        ("개인정보 열람 요청", "yujin.choi@example.com"),
        ("회원 탈퇴 요청", "junho.bae@example.net"),
        ("Unsubscribe", "tom.baker@example.org"),
    ]
    euc_kr_base64 = found[1][1]
    assert euc_kr_base64.body == "탈퇴 처리와 함께 제 정보를 모두 삭제해 주세요.\n배준호"


def test_read_source_reads_a_maildir_new_and_cur():
    found = {label: parse_message(raw) for label, raw in read_source(str(MAIL / "maildir"))}
    assert {label: m.subject for label, m in found.items()} == {
        "1760320800.M1P4242.mail.demo-shop.co.kr": "Please delete my account",
        "1760324400.M2P4242.mail.demo-shop.co.kr": "개인정보 처리 정지 요청",
    }


def test_read_source_skips_dot_files_in_a_maildir(tmp_path: Path):
    box = tmp_path / "box"
    shutil.copytree(MAIL / "maildir", box)
    (box / "new" / ".gitkeep").write_bytes(b"")
    (box / "cur" / ".nfs0001").write_bytes(b"Subject: stale\n\n")
    labels = [label for label, _ in read_source(str(box))]
    assert labels == [
        "1760320800.M1P4242.mail.demo-shop.co.kr",
        "1760324400.M2P4242.mail.demo-shop.co.kr",
    ]


def test_read_source_reads_stdin():
    raw = (MAIL / "04_correction_cp949_labelled_euckr.eml").read_bytes()
    code = (
        "import hashlib, json\n"
        "from rightsdesk.requests.mail_parsing import parse_message, read_source\n"
        "[(label, raw)] = list(read_source('-'))\n"
        "print(json.dumps({'label': label, 'sha256': hashlib.sha256(raw).hexdigest(),\n"
        "                  'subject': parse_message(raw).subject}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input=raw, capture_output=True, check=True, cwd=ROOT
    )
    assert json.loads(result.stdout) == {
        "label": "stdin",
        "sha256": hashlib.sha256(raw).hexdigest(),
        "subject": "주소 정정 요청 (똠방각하빌라 302호)",
    }


def test_read_source_missing_path_raises_at_once(tmp_path: Path):
    missing = tmp_path / "nowhere.eml"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.eml"):
        read_source(str(missing))


def test_read_source_refuses_a_directory_that_is_not_a_maildir(tmp_path: Path):
    with pytest.raises(IsADirectoryError, match="not a Maildir"):
        read_source(str(tmp_path))


# --- architecture -------------------------------------------------------------------------------


def test_importing_the_mail_parser_and_classifier_loads_neither_flask_nor_sqlalchemy():
    code = (
        "import sys\n"
        "import rightsdesk.requests.mail_parsing, rightsdesk.domain.classify\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""
