"""The admin console: staff sign in, work the queue, decide, and read the trail.

Access is closed by default: every view declares the roles that may use it with ``@roles``,
and a view without that declaration answers 403 to everyone. Admins may do everything;
handlers work requests; auditors read everything and change nothing.
"""

from __future__ import annotations

from rightsdesk.admin import (  # noqa: F401  (importing the views registers their routes)
    audit_views,
    auth,
    connector_views,
    intake_views,
    letter_views,
    policy_views,
    queue,
    reports_views,
    request_views,
    retention_views,
    settings_views,
)
from rightsdesk.admin.blueprint import bp, init_login

__all__ = ["bp", "init_login"]
