"""Our own exception types, raised at service boundaries and turned into polite replies by the bot."""

from __future__ import annotations


class ShanzhiError(Exception):
    """Base of every error we expect and explain to a user."""

    code = "error"

    def __init__(self, message: str = "", **params: object) -> None:
        super().__init__(message or self.code)
        self.params = params


class NotAuthorised(ShanzhiError):
    code = "not_authorised"


class TicketNotFound(ShanzhiError):
    code = "ticket_not_found"


class InvalidTransition(ShanzhiError):
    code = "invalid_transition"


class BadArgument(ShanzhiError):
    code = "bad_argument"


class UnknownRegion(ShanzhiError):
    code = "unknown_region"


class UnknownUnit(ShanzhiError):
    code = "unknown_unit"


class AmbiguousTicket(ShanzhiError):
    code = "ambiguous_ticket"


class NoAlert(ShanzhiError):
    """收到 / 到场 named no live emergency."""

    code = "no_alert"


class AmbiguousAlert(ShanzhiError):
    """收到 / 到场 without a number from someone alerted to several live emergencies."""

    code = "ambiguous_alert"
