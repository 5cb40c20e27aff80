"""Who acts: one type for every service's ``actor``, whoever calls it.

An :class:`Actor` *is* the text the audit trail records ("staff:<email>", "cli:<login>",
"subject", "api:<key name>", "system:<job>", "worker:<host:pid>", "inbound-mail"), so it is
stored, compared and shown as that text. A member of staff acting in the console also carries the
account (a note's author) and the address they act from (the audit event's ``ip``).
"""

from __future__ import annotations

from rightsdesk.models import StaffUser


class Actor(str):
    user: StaffUser | None
    ip: str | None

    def __new__(cls, name: str, *, user: StaffUser | None = None, ip: str | None = None) -> Actor:
        actor = super().__new__(cls, name)
        actor.user, actor.ip = user, ip
        return actor

    @classmethod
    def staff(cls, user: StaffUser, ip: str | None = None) -> Actor:
        return cls(f"staff:{user.email}", user=user, ip=ip)

    @classmethod
    def api(cls, key_name: str) -> Actor:
        return cls(f"api:{key_name}")

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(f"system:{job}")

    @property
    def name(self) -> str:
        return str(self)


SUBJECT = Actor("subject")
INBOUND_MAIL = Actor("inbound-mail")
ANONYMOUS = Actor("anonymous")
