"""Which right an e-mailed request asks for, read from its Korean or English wording.

A guess for staff, never a decision: when nothing matches or two kinds score the same,
:func:`classify` returns ``None`` and the caller files the message as unclassified (it is never
dropped). The subject line weighs more than the body, because people name what they want there
("개인정보 열람 요청") and then explain around it.

Korean keywords match anywhere (Korean glues particles and endings onto words: "삭제해",
"정정을"); a space inside a Korean keyword also matches no space, any whitespace, or an object or
genitive particle ("동의를 철회", "처리정지"). English keywords match on word boundaries only, so
"stop" does not hit "stopwatch" nor "copy" "copyright"; their usual inflections are listed.
Quoted lines of a reply ("> …") and everything after an "Original Message" separator are
ignored: they are the previous message, often our own acknowledgement.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind

K = RequestKind

SUBJECT_WEIGHT = 3

_KOREAN: dict[RequestKind, tuple[str, ...]] = {
    K.ACCESS: ("열람", "조회", "사본", "확인 요청"),
    K.CORRECTION: ("정정", "수정", "변경"),
    K.DELETION: ("삭제", "파기", "회원 탈퇴", "탈퇴"),
    K.SUSPENSION: ("처리 정지", "이용 중지", "중지"),
    K.CONSENT_WITHDRAWAL: ("동의 철회", "수신 거부", "마케팅 수신"),
    K.AUTOMATED_DECISION: (
        "자동화된 의사결정",
        "자동화된 결정",
        "자동화 결정",
        "자동 결정",
        "프로파일링",
    ),
}

# Regular expressions (already case-folded), matched between word boundaries.
_ENGLISH: dict[RequestKind, tuple[str, ...]] = {
    K.ACCESS: (
        r"(?:data\s+)?subject\s+access\s+requests?",
        r"access(?:es|ed|ing)?",
        r"cop(?:y|ies)",
        r"what\s+(?:personal\s+)?data",
    ),
    K.CORRECTION: (
        r"correct(?:s|ed|ing|ions?)?",
        r"rectif(?:y|ies|ied|ying|ication)",
        r"updat(?:e|es|ed|ing)",
    ),
    K.DELETION: (
        r"delet(?:e|es|ed|ing|ion)",
        r"eras(?:e|es|ed|ing|ure)",
        r"clos(?:e|ing)\s+(?:my|our)\s+account",
        r"remov(?:e|ing)\s+(?:all\s+)?(?:of\s+)?my\s+(?:personal\s+)?data",
    ),
    K.SUSPENSION: (
        r"stop(?:s|ped|ping)?",
        r"object(?:s|ed|ing|ions?)?",
        r"restrict(?:s|ed|ing|ions?)?",
    ),
    K.CONSENT_WITHDRAWAL: (
        r"withdr(?:aw|aws|awn|awing|awal|ew)\s+(?:of\s+)?(?:my\s+|our\s+|the\s+|all\s+)?consent",
        r"unsubscrib(?:e|es|ed|ing)",
        r"opt(?:s|ed|ing)?[\s-]*out",
    ),
    K.AUTOMATED_DECISION: (
        r"automated\s+(?:individual\s+)?decisions?(?:[\s-]making)?",
        r"profiling",
    ),
}

# Between the words of a Korean keyword: nothing, whitespace, or a particle (을/를/의).
_KOREAN_JOINER = r"\s*(?:[을를의]\s*)?"

_QUOTED_LINE = re.compile(r"^[ \t]*>.*$", re.MULTILINE)
_ORIGINAL_MESSAGE = re.compile(
    r"^[ \t]*-{2,}[ \t]*(?:original message|원본 메시지|원본 메일|원문 메시지)[ \t]*-{2,}",
    re.MULTILINE | re.IGNORECASE,
)


def _korean_pattern(keyword: str) -> str:
    return _KOREAN_JOINER.join(re.escape(word) for word in keyword.split())


def _compile(kind: RequestKind) -> re.Pattern[str]:
    """One alternation per kind, longest keyword first, so a phrase counts once.

    "회원 탈퇴" is one mention of deletion, not two ("회원 탈퇴" and "탈퇴").
    """
    korean = sorted(_KOREAN[kind], key=len, reverse=True)
    english = sorted(_ENGLISH[kind], key=len, reverse=True)
    alternatives = [_korean_pattern(k) for k in korean] + [rf"\b{e}\b" for e in english]
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# Only the rights a subject can name: "unclassified" is what ``None`` becomes, never a guess.
_PATTERNS: dict[RequestKind, re.Pattern[str]] = {kind: _compile(kind) for kind in SUBJECT_KINDS}


def normalise_text(text: str) -> str:
    """NFC (so decomposed Hangul from some Mac mailers matches) and case-folded."""
    return unicodedata.normalize("NFC", text).casefold()


def strip_quoted(body: str) -> str:
    """The body without the previous message a reply quotes."""
    separator = _ORIGINAL_MESSAGE.search(body)
    if separator:
        body = body[: separator.start()]
    return _QUOTED_LINE.sub("", body)


def _hits(text: str) -> dict[RequestKind, int]:
    return {kind: len(pattern.findall(text)) for kind, pattern in _PATTERNS.items()}


def scores(subject: str, body: str) -> dict[RequestKind, int]:
    """Every kind's score: each keyword mention in the subject counts ``SUBJECT_WEIGHT``."""
    in_subject = _hits(normalise_text(subject))
    in_body = _hits(normalise_text(strip_quoted(body)))
    return {kind: SUBJECT_WEIGHT * in_subject[kind] + in_body[kind] for kind in _PATTERNS}


def best_kind(kind_scores: Mapping[RequestKind, int]) -> RequestKind | None:
    """The single highest-scoring kind; ``None`` if nothing scored or the top is shared."""
    top = max(kind_scores.values(), default=0)
    if top <= 0:
        return None
    leaders = [kind for kind, score in kind_scores.items() if score == top]
    return leaders[0] if len(leaders) == 1 else None


def classify(subject: str, body: str) -> RequestKind | None:
    """The right a message most likely asks for, or ``None`` for staff to decide."""
    return best_kind(scores(subject, body))
