"""Private feed addresses for members: the feed's URL with a signed key that ends with the member's access.

A feed reader cannot carry a member's cookie, so a member's own feed address
carries a key instead (``?paywall_key=...``). The key is a token like every
other the paywall signs (itsdangerous, the site's keys and their rotation)
with a purpose of its own (``paywall.feed``): no other token is a key, and a
key is no other token. What it names is checked on every fetch, against the
access it stands for:

* a trial reader's key names the trial, which is looked up in the store: the
  key stops when the trial ends or is revoked (``paywall trials revoke``), on
  every instance at once;
* a member's key names the member and the end of their access (their member
  cookie's end, their JWT's, or the end the publisher gives
  :func:`private_feed_url`): it stops then.

Removing a key from ``secret_key`` and ``secret_key_fallbacks`` ends every feed
key it signed. A key counts for feeds only, never for pages or JSON: a copied
address opens what a feed reader shows, and no more.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import URL
from starlette.requests import HTTPConnection

from ..errors import StoreUnavailable
from ..settings import PaywallSettings
from .credentials import Credentials
from .members import bearer_token
from .readers import Reader
from .store import Store
from .tokens import FEED, MEMBER, InvalidToken, Keys, number, sign, verify

logger = logging.getLogger("paywall")

#: The query parameter that carries a member's feed key.
FEED_KEY_PARAMETER = "paywall_key"
_MAX_DAYS = 3650
_DAY = 86400.0


def issue_member_feed_key(keys: Keys, subject: str, ends_at: float, *, now: float | None = None) -> str:
    """A feed key for the member ``subject`` whose access ends at ``ends_at`` (a Unix time), signed with ``keys``."""
    now = time.time() if now is None else now
    if not isinstance(subject, str) or not subject or len(subject) > 256:
        raise ValueError("subject must be a non-empty string of at most 256 characters")
    if not (isinstance(ends_at, int | float) and math.isfinite(ends_at) and now < ends_at <= now + _MAX_DAYS * _DAY):
        raise ValueError(f"the access must end in the future, within {_MAX_DAYS} days")
    return sign(keys, FEED, {"s": subject, "e": float(ends_at)}, now=now)


def issue_trial_feed_key(keys: Keys, trial_id: str, *, now: float | None = None) -> str:
    """A feed key for the trial ``trial_id``: it works while the store says the trial is active."""
    return sign(keys, FEED, {"t": trial_id}, now=now)


def private_feed_url(
    settings: PaywallSettings,
    feed_url: str,
    subject: str,
    *,
    ends_at: datetime | float,
    now: float | None = None,
) -> str:
    """``feed_url`` with a key that opens its items in full to the member ``subject`` until ``ends_at``.

    For the publisher's own account pages, where the member and the end of
    their subscription are known (``ends_at``: an aware datetime or a Unix time):

    >>> private_feed_url(settings, "https://news.example/feed/", "reader-42", ends_at=subscription.ends)
    'https://news.example/feed/?paywall_key=...'
    """
    end = ends_at.timestamp() if isinstance(ends_at, datetime) else ends_at
    key = issue_member_feed_key(settings, subject, end, now=now)
    return str(URL(feed_url).include_query_params(**{FEED_KEY_PARAMETER: key}))


def key_in(query_string: bytes) -> str | None:
    """The feed key a request's query carries, if any."""
    if FEED_KEY_PARAMETER.encode() not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1")):
        if name == FEED_KEY_PARAMETER and value:
            return value
    return None


async def feed_reader(
    credentials: Credentials, store: Store, query_string: bytes, *, now: float | None = None
) -> Reader | None:
    """The member (or trial reader) whose valid key the query carries; None for none, or one that no longer opens."""
    key = key_in(query_string)
    if key is None:
        return None
    now = time.time() if now is None else now
    try:
        payload = verify(credentials.tokens, FEED, key, now=now)
    except InvalidToken:
        return None
    if not isinstance(payload, dict):
        return None
    trial_id, subject, ends_at = payload.get("t"), payload.get("s"), number(payload.get("e"))
    if isinstance(trial_id, str) and trial_id:
        try:
            trial = await store.get_trial(trial_id)
        except StoreUnavailable:
            logger.warning("store unavailable while checking a trial's feed key")
            return None
        if trial is None or not trial.active(now):
            return None
        return Reader(level="trial", trial=trial, subject=f"trial:{trial.trial_id}")
    if isinstance(subject, str) and subject and ends_at is not None and now < ends_at:
        return Reader(level="member", subject=f"member:{subject}")
    return None


def key_for(
    conn: HTTPConnection,
    reader: Reader,
    settings: PaywallSettings,
    credentials: Credentials,
    *,
    now: float | None = None,
) -> str | None:
    """A feed key for the reader of this request, ending with their access; None when there is none to give.

    A trial reader's key follows the trial; a member recognised by the member
    cookie or a JWT gets one that ends when that token does. A member
    recognised only by the site's own code (``member_resolver``, the site's
    ``X-Paywall-Access``) has no end the paywall knows: the site gives those
    keys itself, with :func:`private_feed_url`.
    """
    now = time.time() if now is None else now
    if reader.level == "trial" and reader.trial is not None:
        return issue_trial_feed_key(credentials.tokens, reader.trial.trial_id, now=now)
    if reader.level != "member" or not reader.subject:
        return None
    found = _member_token(conn, settings, credentials, now)
    if found is None:
        return None
    subject, ends_at = found
    return issue_member_feed_key(credentials.tokens, subject, min(ends_at, now + _MAX_DAYS * _DAY), now=now)


def _member_token(
    conn: HTTPConnection, settings: PaywallSettings, credentials: Credentials, now: float
) -> tuple[str, float] | None:
    """The subject and end of the member cookie or JWT that makes this reader a member."""
    raw = conn.cookies.get(settings.member_cookie)
    if raw:
        try:
            payload: Any = verify(credentials.tokens, MEMBER, raw, now=now)
        except InvalidToken:
            payload = None
        if isinstance(payload, dict):
            subject, ends_at = payload.get("s"), number(payload.get("e"))
            if isinstance(subject, str) and subject and ends_at is not None and now < ends_at:
                return subject, ends_at
    verifier = credentials.jwt
    token = conn.cookies.get(settings.jwt_cookie) or bearer_token(conn.headers.get("authorization"))
    if verifier is None or not token:
        return None
    try:
        subject = verifier.subject(token, now=now)
        ends_at = number(verifier.verify(token, now=now).get("exp"))
    except InvalidToken:
        return None
    return (subject, ends_at) if ends_at is not None and now < ends_at else None


__all__ = [
    "FEED_KEY_PARAMETER",
    "feed_reader",
    "issue_member_feed_key",
    "issue_trial_feed_key",
    "key_for",
    "key_in",
    "private_feed_url",
]
