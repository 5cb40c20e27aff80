"""Who acts: the name the audit trail records ("staff:<email>", "cli:<login>", "subject", …)."""

from __future__ import annotations

from dataclasses import dataclass

from rightsdesk.models import StaffUser


def staff_actor(user: StaffUser) -> str:
    return f"staff:{user.email}"


@dataclass(frozen=True)
class Actor:
    """A member of staff acting in the console, and the address they act from."""

    user: StaffUser
    ip: str | None

    @property
    def name(self) -> str:
        return staff_actor(self.user)
