"""Errors staff read in their own language, raised where Flask is not at hand.

An error keeps its message id (English, marked with ``N_`` for extraction) and its values
apart: ``str(error)`` is the English text (the CLI and logs), and the console translates the
id and interpolates the values in the staff member's language (``rightsdesk.i18n``).
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


class StaffMessageError(ValueError):
    """A refusal staff read: ``message`` is the id, ``values`` fill its ``%(name)s`` slots."""

    def __init__(self, message: str, **values: object) -> None:
        self.message = message
        self.values = values
        super().__init__(message % values if values else message)
