"""Korean particles (조사) chosen by the sound they follow: "RD-2026-000009를", "데모 쇼핑은".

Translators write both forms, as Korean software customarily does when it cannot know the
word (``%(name)s은(는)``, ``%(reference)s이(가)``, ``%(place)s(으)로``); once the text is
interpolated, :func:`resolve` keeps the one form that fits the word before it. A particle is
chosen by the last sound of that word: a Hangul syllable's final consonant (받침), a digit as
it is read (1 일, 3 삼, 6 육, 7 칠, 8 팔, 0 영/십/백/천/만, the rest end in a vowel), a Latin
letter as it is named (L 엘, M 엠, N 엔, R 알). Where nothing tells (a symbol), the written
pair is left as it is, which is never wrong, only clumsy.
"""

from __future__ import annotations

import re

# (form after a final consonant, form after a vowel); "으로" also follows a final ㄹ's vowel form.
_PAIRS: dict[str, tuple[str, str]] = {
    "을(를)": ("을", "를"),
    "를(을)": ("을", "를"),
    "이(가)": ("이", "가"),
    "가(이)": ("이", "가"),
    "은(는)": ("은", "는"),
    "는(은)": ("은", "는"),
    "과(와)": ("과", "와"),
    "와(과)": ("과", "와"),
    "으로(로)": ("으로", "로"),
    "(으)로": ("으로", "로"),
    "이라(라)": ("이라", "라"),
    "(이)라": ("이라", "라"),
    "이나(나)": ("이나", "나"),
    "(이)나": ("이나", "나"),
}
_PATTERN = re.compile("|".join(re.escape(p) for p in sorted(_PAIRS, key=len, reverse=True)))
_CLOSING = ")]}>\"'’”」』》〉 "
# the 27 final consonants (받침) of a Hangul syllable, by index (0: none)
_FINALS = " ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
# the final consonant of each digit as read: None after a vowel (이, 사, 오, 구)
_DIGIT_FINAL = {"0": "ㅇ", "1": "ㄹ", "2": None, "3": "ㅁ", "4": None, "5": None,
                "6": "ㄱ", "7": "ㄹ", "8": "ㄹ", "9": None}  # fmt: skip
# a number ending in zeros is read by its last unit: 십, 백, 천, 만
_ZEROS_FINAL = {1: "ㅂ", 2: "ㄱ", 3: "ㄴ", 4: "ㄴ"}
_LETTER_FINAL = {"l": "ㄹ", "m": "ㅁ", "n": "ㄴ", "r": "ㄹ"}


def final_sound(word: str) -> str | None:
    """The final consonant the word ends on (``"ㄹ"``, ``"ㅁ"``, …), ``""`` after a vowel, or
    None when the word's ending cannot be read (no letter, digit or syllable)."""
    word = word.rstrip(_CLOSING)
    if not word:
        return None
    last = word[-1]
    if "가" <= last <= "힣":
        return _FINALS[(ord(last) - 0xAC00) % 28].strip()
    if last.isdigit() and last.isascii():
        return _number_final(word)
    if last.isascii() and last.isalpha():
        return _LETTER_FINAL.get(last.lower(), "")
    return None


def _number_final(word: str) -> str:
    digits = re.search(r"\d+$", word).group()
    if digits.strip("0") and digits.endswith("0") and not digits.startswith("0"):
        zeros = len(digits) - len(digits.rstrip("0"))
        return _ZEROS_FINAL.get(zeros, "ㄴ")
    return _DIGIT_FINAL[digits[-1]] or ""


def choose(word: str, pair: str) -> str:
    """The form of ``pair`` (as written, e.g. ``"을(를)"``) that follows ``word``."""
    after_consonant, after_vowel = _PAIRS[pair]
    sound = final_sound(word)
    if sound is None:
        return pair
    if after_consonant == "으로":  # 으로 after a consonant other than ㄹ; 로 after ㄹ or a vowel
        return after_vowel if sound in ("", "ㄹ") else after_consonant
    return after_vowel if sound == "" else after_consonant


def resolve(text: str) -> str:
    """Every written pair of ``text`` replaced by the form its preceding word takes."""
    if "(" not in text:
        return text

    def replace(found: re.Match) -> str:
        return choose(text[: found.start()], found.group())

    return _PATTERN.sub(replace, text)
