"""Korean particles chosen by the sound before them (rightsdesk.domain.particles)."""

from __future__ import annotations

import pytest

from rightsdesk.domain.particles import choose, final_sound, resolve


@pytest.mark.parametrize(
    ("word", "sound"),
    [
        ("쇼핑", "ㅇ"),  # 핑: final ㅇ
        ("데모 쇼핑", "ㅇ"),
        ("밀리의 서재", ""),  # 재: no final
        ("클래스파트라", ""),
        ("서울", "ㄹ"),
        ("RD-2026-000009", ""),  # 구
        ("RD-2026-000001", "ㄹ"),  # 일
        ("RD-2026-000013", "ㅁ"),  # 삼
        ("RD-2026-000016", "ㄱ"),  # 육
        ("RD-2026-000010", "ㅇ"),  # read digit by digit after leading zeros: 영
        ("10", "ㅂ"),  # 십
        ("200", "ㄱ"),  # 이백
        ("3000", "ㄴ"),  # 삼천
        ("Millie", ""),  # 이
        ("Apple", ""),
        ("app", ""),  # 피: a letter's name is all we know
        ("HTML", "ㄹ"),  # 엘
        ("Team", "ㅁ"),  # 엠
        ("(주)카카오", ""),
        ("내 개인정보 열람)", "ㅁ"),  # the bracket is skipped
        ("—", None),
        ("", None),
    ],
)
def test_the_final_sound_of_a_word(word, sound):
    assert final_sound(word) == sound


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("데모 쇼핑은(는) 요청을 처리합니다.", "데모 쇼핑은 요청을 처리합니다."),
        ("밀리의 서재은(는) 요청을", "밀리의 서재는 요청을"),
        ("요청 RD-2026-000009을(를) 확인해 주세요", "요청 RD-2026-000009를 확인해 주세요"),
        ("요청 RD-2026-000013을(를) 확인해 주세요", "요청 RD-2026-000013을 확인해 주세요"),
        ("요청 RD-2026-000009이(가) 접수되었습니다", "요청 RD-2026-000009가 접수되었습니다"),
        ("요청 RD-2026-000011이(가) 철회되었습니다", "요청 RD-2026-000011이 철회되었습니다"),
        ("요청 RD-1 (내 개인정보 열람)을(를) 받아들일", "요청 RD-1 (내 개인정보 열람)을 받아들일"),
        ("서울(으)로 보냅니다", "서울로 보냅니다"),  # ㄹ takes 로
        ("부산(으)로 보냅니다", "부산으로 보냅니다"),
        ("학교(으)로", "학교로"),
        ("사과과(와) 배", "사과와 배"),
        ("우편(이)나 전화", "우편이나 전화"),
        ("— 을(를)", "— 을(를)"),  # nothing to read: the pair stays
        ("괄호 (예시)와 무관", "괄호 (예시)와 무관"),  # no pair written
    ],
)
def test_pairs_are_resolved_after_interpolation(text, expected):
    assert resolve(text) == expected


def test_choose_names_each_form():
    assert [choose("책", p) for p in ("을(를)", "이(가)", "은(는)", "과(와)", "(으)로")] == [
        "을",
        "이",
        "은",
        "과",
        "으로",
    ]
    assert [choose("나무", p) for p in ("을(를)", "이(가)", "은(는)", "과(와)", "(으)로")] == [
        "를",
        "가",
        "는",
        "와",
        "로",
    ]


# --- in pages and mails ------------------------------------------------------------------------


def test_the_home_page_writes_the_particle_the_organisation_s_name_takes(app, client):
    from tests.helpers import organisation

    organisation(app)  # 테스트 쇼핑: 핑 ends on ㅇ
    page = client.get("/").get_data(as_text=True)
    assert "테스트 쇼핑은 보유한 개인정보" in page and "은(는)" not in page


def test_the_confirmation_mail_s_subject_takes_the_reference_s_particle(app, client, smtp):
    from tests.helpers import file_access_request, send_mail

    assert file_access_request(client).status_code == 302
    send_mail(app)
    import email.header
    import re

    subject = smtp.messages[0]["Subject"]
    decoded = str(email.header.make_header(email.header.decode_header(subject)))
    found = re.search(r"요청 RD-\d{4}-\d{5}(\d)(\S+) 확인해 주세요$", decoded)
    assert found, decoded
    # the last digit as read: 2 이, 4 사, 5 오, 9 구 end on a vowel and take 를
    assert found.group(2) == ("를" if found.group(1) in "2459" else "을")
