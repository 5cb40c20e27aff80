"""The demo's sample data subjects: the shop's users that the sample requests are about."""

from __future__ import annotations

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.models import Channel, RepresentativeRole

# (days before now, kind, channel, e-mail, name, path through the lifecycle, representative)
SAMPLES: list[tuple] = [
    (1, RequestKind.ACCESS, Channel.WEB, "minji.kim@example.com", "김민지", [], None),
    (
        3,
        RequestKind.DELETION,
        Channel.WEB,
        "jihoon.park@example.com",
        "박지훈",
        [(Status.VERIFIED, None), (Status.IN_PROGRESS, None)],
        None,
    ),
    (
        6,
        RequestKind.CORRECTION,
        Channel.EMAIL,
        "seoyeon.lee@example.com",
        "이서연",
        [(Status.VERIFIED, None), (Status.AWAITING_SUBJECT, None)],
        None,
    ),
    (
        8,
        RequestKind.SUSPENSION,
        Channel.STAFF,
        "hyunwoo.choi@example.com",
        "최현우",
        [(Status.VERIFIED, None)],
        None,
    ),
    (
        9,
        RequestKind.ACCESS,
        Channel.WEB,
        "child.jung@example.com",
        "정하윤",
        [
            (Status.VERIFIED, None),
            (Status.IN_PROGRESS, None),
            (Status.EXTENDED, "주문 기록 보관 시스템 점검으로 열람 준비가 늦어집니다"),
        ],
        (RepresentativeRole.LEGAL_GUARDIAN, "정우성", "guardian.jung@example.com"),
    ),
    (
        12,
        RequestKind.CONSENT_WITHDRAWAL,
        Channel.WEB,
        "yuna.kang@example.com",
        "강유나",
        [(Status.VERIFIED, None), (Status.COMPLETED, None)],
        None,
    ),
    (
        15,
        RequestKind.DELETION,
        Channel.EMAIL,
        "dongmin.yoon@example.com",
        "윤동민",
        [
            (Status.VERIFIED, None),
            (Status.IN_PROGRESS, None),
            (
                Status.PARTIALLY_COMPLETED,
                "전자상거래법 시행령 §6①3에 따라 결제 기록은 5년간 분리 보관합니다",
            ),
        ],
        None,
    ),
    (
        20,
        RequestKind.ACCESS,
        Channel.WEB,
        "unverified@example.com",
        None,
        [(Status.EXPIRED, None)],
        None,
    ),
]
