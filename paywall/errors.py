"""Exceptions raised by paywall.

Each failure has its own type so that callers can fail closed on exactly the
errors they expect, and let programming errors surface.
"""

from __future__ import annotations


class PaywallError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(PaywallError, ValueError):
    """A setting is missing or has a value that cannot work.

    Raised when settings are built, so that a mistake stops the service at
    start-up instead of surfacing at the first request.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class StoreUnavailable(PaywallError):
    """The shared store (SQLite or Redis) could not be reached or answered badly.

    Gated pages fail closed on this error: the reader sees the teaser.
    """


class RewriteError(PaywallError):
    """The HTML engine could not gate a document (unparseable, hostile, too deep)."""


class BodyTooLarge(PaywallError):
    """A response body, decoded, is larger than ``max_body_bytes``."""


class FormatError(PaywallError):
    """A feed or a JSON body that cannot be read, or cut, safely (hostile XML, broken JSON, a leak left).

    Non-members are refused the answer; it never goes out whole to them.
    """
