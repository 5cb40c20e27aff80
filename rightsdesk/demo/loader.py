"""The demo organisation of the README's run command, with sample requests in several states."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from rightsdesk.core.actors import Actor
from rightsdesk.demo.samples import SAMPLES
from rightsdesk.extensions import db
from rightsdesk.models import Organisation, StaffRole
from rightsdesk.organisation.setup import set_up_organisation
from rightsdesk.organisation.staff import create_staff
from rightsdesk.policy.versions import load_demo_versions
from rightsdesk.requests.lifecycle import change_status, submit_request

DEMO_SLUG = "demo-shop"


# Printed by `rightsdesk demo load`; refused in production, like the demo itself.
DEMO_LOGIN = ("admin@demo-shop.example", "demo-admin-password")


DEMO_HANDLER = ("handler@demo-shop.example", "demo-handler-password")


def load_demo(*, now: datetime, actor: Actor) -> int:
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
        officer_name="홍길동",
        officer_title="정보보호팀장",
        officer_department="정보보호팀",
        officer_email="privacy@demo-shop.example",
        officer_phone="02-000-0000",
        actor=actor,
        now=now,
    )
    load_demo_versions(actor=actor)  # the privacy policy in force and its history (/privacy)
    for sample in SAMPLES:
        _load_sample(sample, now=now, actor=actor)
    return len(SAMPLES)


def _load_sample(sample: tuple, *, now: datetime, actor: Actor) -> None:
    """A sample request, received ``days_ago``, walked along its path two hours a step."""
    days_ago, kind, channel, email, name, path, representative = sample
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
