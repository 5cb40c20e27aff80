"""The demo organisation of the README's run command, with sample requests in several states."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from rightsdesk.domain.kinds import RequestKind
from rightsdesk.domain.lifecycle import Status
from rightsdesk.extensions import db
from rightsdesk.models import Channel, Organisation, RepresentativeRole, StaffRole
from rightsdesk.services.organisation import set_up_organisation
from rightsdesk.services.requests import change_status, submit_request
from rightsdesk.services.staff import create_staff

DEMO_SLUG = "demo-shop"
# Printed by `rightsdesk demo load`; refused in production, like the demo itself.
DEMO_LOGIN = ("admin@demo-shop.example", "demo-admin-password")
DEMO_HANDLER = ("handler@demo-shop.example", "demo-handler-password")

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


def load_demo(*, now: datetime, actor: str) -> int:
    """Create the demo once; return how many requests it made (0 if it was there already)."""
    if db.session.scalar(select(Organisation).where(Organisation.slug == DEMO_SLUG)):
        return 0
    for (email, password), role, name in (
        (DEMO_LOGIN, StaffRole.ADMIN, "데모 관리자"),
        (DEMO_HANDLER, StaffRole.HANDLER, "데모 담당자"),
    ):
        create_staff(email=email, name=name, role=role, password=password, actor=actor, now=now)
    set_up_organisation(
        slug=DEMO_SLUG,
        name_ko="데모 쇼핑",
        name_en="Demo Shop",
        officer_name="홍길동 (개인정보 보호책임자)",
        officer_email="privacy@demo-shop.example",
        officer_phone="02-000-0000",
        actor=actor,
        now=now,
    )
    from rightsdesk.services.policy import load_demo_versions

    load_demo_versions(actor=actor)  # the privacy policy in force and its history (/privacy)
    for days_ago, kind, channel, email, name, path, representative in SAMPLES:
        received = now - timedelta(days=days_ago)
        request = submit_request(
            kind=kind,
            email=email,
            name=name,
            channel=channel,
            now=received,
            actor=actor,
            details="데모 요청입니다 (demo request)",
            representative=representative,
        )
        for step, (status, reason) in enumerate(path, start=1):
            moment = min(received + timedelta(hours=2 * step), now)
            change_status(request, status, actor=actor, now=moment, reason=reason)
    return len(SAMPLES)
