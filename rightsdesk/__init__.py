"""rightsdesk: data-subject rights requests, end to end."""

from rightsdesk.app import create_app

__all__ = ["create_app"]
