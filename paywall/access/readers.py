"""Who is reading, and may they read this article in full?

:func:`identify` turns a request into a :class:`Reader` from, in order: the
publisher's ``member_resolver``, the signed member cookie, a JWT, and the
trial token (checked against the store, so a revoked trial stops on the next
request everywhere). :func:`consume_meter` spends one of the month's free
articles for a non-member.

Every doubt resolves to "not a member": a resolver that raises, a store that
is down, a token that does not verify. Bad tokens are cleared through
``Reader.set_cookies`` so a stale cookie is dealt with once, silently.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from types import CoroutineType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import anyio
import anyio.to_thread
from starlette.requests import HTTPConnection

from ..errors import StoreUnavailable
from ..paths import normalize_path
from ..settings import PaywallSettings
from .cookies import delete_cookie_header, set_cookie_header
from .crawlers import CrawlerVerifier
from .credentials import Credentials, credentials_for
from .eager import begin, rest_within
from .members import bearer_token, load_member_token
from .network import client_address, is_https
from .store.base import MeterResult, Store, Trial
from .tokens import (
    ExpiredToken,
    InvalidToken,
    Tokens,
    TrialToken,
    issue_device_token,
    issue_trial_token,
    load_device_token,
    load_trial_token,
)

logger = logging.getLogger("paywall")

Level = Literal["anonymous", "metered", "trial", "member"]

DEVICE_COOKIE_MAX_AGE = 365 * 86400
_RESOLVED_KEY = "paywall.member_resolver"


@dataclass(frozen=True)
class Reader:
    """The access decision's input: who the reader is, and which cookies to send back."""

    level: Level
    device_id: str | None = None
    trial: Trial | None = None
    trial_ended: bool = False
    #: Stable id for copy tracing: ``"member:<subject>"`` or ``"trial:<trial id>"``.
    subject: str | None = None
    #: ``Set-Cookie`` values to add to the response (clear bad tokens, new device id).
    set_cookies: tuple[str, ...] = ()
    #: A verified search crawler (its name, ``"Googlebot"``): reads articles whole, marked as gated
    #: for search engines; no member (no trial, no meter, no member's view counted).
    crawler: str | None = None
    #: A member or a reader in an active trial: gets full articles (a verified crawler is told apart).
    #: Worked out when the reader is made: the middleware asks several times per request.
    reads_in_full: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads_in_full", self.level in ("member", "trial"))

    def with_meter(self, result: MeterResult | None) -> Reader:
        """This reader after a meter decision: ``metered`` when a free article was granted."""
        if result is not None and result.allowed and not self.reads_in_full:
            return dataclasses.replace(self, level="metered")
        return self


# ---------------------------------------------------------------------------
# cookies


def cookie_secure(settings: PaywallSettings, scope: Any) -> bool:
    """Secure cookies under https, or always/never when the publisher says so."""
    if settings.cookie_secure is not None:
        return settings.cookie_secure
    return is_https(scope, settings.trusted_proxies)


def device_cookie(
    settings: PaywallSettings,
    scope: Any,
    device_id: str,
    *,
    trial_ends_at: float | None = None,
    now: float | None = None,
    tokens: Tokens | None = None,
) -> str:
    token = issue_device_token(tokens or settings, device_id, trial_ends_at=trial_ends_at, now=now)
    return set_cookie_header(
        settings.device_cookie,
        token,
        max_age=DEVICE_COOKIE_MAX_AGE,
        secure=cookie_secure(settings, scope),
        domain=settings.cookie_domain,
    )


def trial_cookie(
    settings: PaywallSettings, scope: Any, trial: Trial, *, now: float, tokens: Tokens | None = None
) -> str:
    """The trial token cookie; it lives exactly as long as the trial has left."""
    token = issue_trial_token(tokens or settings, trial.trial_id, trial.ends_at, now=now)
    return set_cookie_header(
        settings.trial_cookie,
        token,
        max_age=max(int(trial.ends_at - now), 1),
        secure=cookie_secure(settings, scope),
        domain=settings.cookie_domain,
    )


def clear_cookie(settings: PaywallSettings, scope: Any, name: str) -> str:
    return delete_cookie_header(name, secure=cookie_secure(settings, scope), domain=settings.cookie_domain)


def new_device_id() -> str:
    """128 random bits, URL-safe."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    #: End of a trial once started on this device (carried in the signed cookie).
    trial_ends_at: float | None
    set_cookies: tuple[str, ...]


def read_device(
    conn: HTTPConnection, settings: PaywallSettings, *, now: float | None = None, tokens: Tokens | None = None
) -> Device:
    """The device of this request, making a new one (with its cookie) when needed."""
    raw = conn.cookies.get(settings.device_cookie)
    if raw:
        try:
            token = load_device_token(tokens or settings, raw, now=now)
        except InvalidToken:
            pass
        else:
            return Device(token.device_id, token.trial_ends_at, ())
    device_id = new_device_id()
    return Device(device_id, None, (device_cookie(settings, conn.scope, device_id, now=now, tokens=tokens),))


# ---------------------------------------------------------------------------
# identify

_MEMBER = Reader(level="member")
_ANONYMOUS = Reader(level="anonymous")


def _carries_credentials(scope: Any) -> bool:
    """Whether the request has a cookie or an ``Authorization`` header: where every credential travels.

    Names as ASGI servers give them, in lower case, in one dict made in C (asked on most requests).
    """
    named = dict(scope["headers"])
    return b"cookie" in named or b"authorization" in named


async def run_member_resolver(conn: HTTPConnection, settings: PaywallSettings) -> bool:
    """The publisher's resolver, at most once per request; any failure means non-member.

    It gets ``member_resolver_timeout`` seconds: a resolver that hangs (an
    accounts service that stopped answering) makes the reader a non-member for
    this request instead of holding the page. A synchronous resolver runs in a
    worker thread, as Starlette runs synchronous endpoints, so that it cannot
    stall the event loop either; one that never returns is abandoned there.
    """
    resolver = settings.member_resolver
    if resolver is None:
        return False
    state = conn.scope.setdefault("state", {})
    if isinstance(state, dict) and _RESOLVED_KEY in state:
        return bool(state[_RESOLVED_KEY])
    try:
        call = _resolver_call(resolver, conn)
        done, result = begin(call)  # most resolvers answer at once: no timer, no coroutine around it
        if not done:
            result = await rest_within(settings.member_resolver_timeout, call, result)
        answer = result is True
        if not isinstance(result, bool):
            logger.warning(
                "member_resolver returned %s for %s, not True or False; treating the reader as a non-member",
                type(result).__name__,
                conn.url.path,
            )
    except TimeoutError:
        logger.warning(
            "member_resolver did not answer within %ss for %s; treating the reader as a non-member",
            settings.member_resolver_timeout,
            conn.url.path,
        )
        answer = False
    except Exception:
        logger.exception("member_resolver failed for %s; treating the reader as a non-member", conn.url.path)
        answer = False
    if isinstance(state, dict):
        state[_RESOLVED_KEY] = answer
    return answer


def _resolver_call(resolver: Callable[[Any], Any], conn: HTTPConnection) -> Coroutine[Any, Any, Any]:
    """What answers for the resolver: an async one's own coroutine (no coroutine of ours around it), else
    the resolver in a worker thread.

    Whether calling ``resolver`` makes a coroutine is asked once per resolver (the answer does not change).
    """
    try:
        is_async = _is_async_cached(resolver)
    except TypeError:  # an unhashable callable object
        is_async = _coroutine_function(resolver)
    if is_async:
        call = resolver(conn)
        return call if isinstance(call, CoroutineType) else _awaited(call)
    return _call_sync_resolver(resolver, conn)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def _call_sync_resolver(resolver: Callable[[Any], Any], conn: HTTPConnection) -> Any:
    result = await anyio.to_thread.run_sync(resolver, conn, abandon_on_cancel=True)
    if inspect.isawaitable(result):
        result = await result
    return result


def _coroutine_function(resolver: Callable[[Any], Any]) -> bool:
    return inspect.iscoroutinefunction(resolver) or inspect.iscoroutinefunction(type(resolver).__call__)


_is_async_cached = functools.lru_cache(maxsize=16)(_coroutine_function)


def _member_by_tokens(
    conn: HTTPConnection, settings: PaywallSettings, credentials: Credentials, now: float, clear: list[str]
) -> str | None:
    raw = conn.cookies.get(settings.member_cookie)
    if raw:
        try:
            return load_member_token(credentials.tokens, raw, now=now)
        except InvalidToken:
            clear.append(clear_cookie(settings, conn.scope, settings.member_cookie))
    verifier = credentials.jwt
    if verifier is not None:
        token = conn.cookies.get(settings.jwt_cookie) or bearer_token(conn.headers.get("authorization"))
        if token:
            try:
                return verifier.subject(token, now=now)
            except InvalidToken:
                pass  # the identity provider's cookie is not ours to clear
    return None


async def identify(
    conn: HTTPConnection,
    settings: PaywallSettings,
    store: Store,
    *,
    now: float | None = None,
    crawlers: CrawlerVerifier | None = None,
    credentials: Credentials | None = None,
) -> Reader:
    """Decide who the reader is. Never raises for anything the reader sent.

    With ``crawlers``, a request whose user agent names a search crawler is
    that crawler when its address proves it (:mod:`paywall.access.crawlers`).
    ``credentials`` are the runtime's (:mod:`paywall.http.runtime`); without them,
    those :func:`~paywall.access.credentials.credentials_for` keeps for ``settings``.
    """
    now = time.time() if now is None else now
    if await run_member_resolver(conn, settings):
        return _MEMBER
    if settings.free_articles <= 0 and not _carries_credentials(conn.scope):
        # Nothing to verify and no device to give: most readers of a site that does not meter.
        return await _verified_crawler(conn, crawlers) or _ANONYMOUS
    credentials = credentials_for(settings) if credentials is None else credentials
    tokens = credentials.tokens
    cookies: list[str] = []
    subject = _member_by_tokens(conn, settings, credentials, now, cookies)
    if subject is not None:
        return Reader(level="member", subject=f"member:{subject}", set_cookies=tuple(cookies))
    crawler = await _verified_crawler(conn, crawlers)
    if crawler is not None:
        return dataclasses.replace(crawler, set_cookies=tuple(cookies))

    device_id: str | None = None
    trial_ends_at: float | None = None
    # Without metering a reader needs no device id until they ask for a trial (the
    # trial form issues it): no cookie, and no token signed, for readers who just read.
    if settings.free_articles > 0 or conn.cookies.get(settings.device_cookie):
        device = read_device(conn, settings, now=now, tokens=tokens)
        trial_ends_at = device.trial_ends_at
        if not (device.set_cookies and settings.free_articles <= 0):
            device_id = device.device_id
            cookies.extend(device.set_cookies)
    ended = trial_ends_at is not None and trial_ends_at <= now

    raw = conn.cookies.get(settings.trial_cookie)
    if raw:
        try:
            token = load_trial_token(tokens, raw, now=now)
        except ExpiredToken:
            ended = True
            cookies.append(clear_cookie(settings, conn.scope, settings.trial_cookie))
        except InvalidToken:
            cookies.append(clear_cookie(settings, conn.scope, settings.trial_cookie))
        else:
            return await _trial_reader(conn, settings, store, tokens, token, device_id, now, ended, cookies)
    return Reader(level="anonymous", device_id=device_id, trial_ended=ended, set_cookies=tuple(cookies))


async def _verified_crawler(conn: HTTPConnection, crawlers: CrawlerVerifier | None) -> Reader | None:
    """The search crawler this request's user agent names, when its address proves it."""
    user_agent = _user_agent(conn.scope) if crawlers is not None else None
    if crawlers is None or user_agent is None:  # no crawler without a user agent naming it
        return None
    crawler = await crawlers.verify(conn.scope, user_agent)
    return None if crawler is None else Reader(level="anonymous", crawler=crawler.name)


def _user_agent(scope: Any) -> str | None:
    """The request's ``User-Agent``, read from the raw headers (no ``Headers`` object made for one lookup;
    names in lower case, as ASGI servers give them, and the first of several, as ``Headers`` reads it)."""
    value = dict(scope["headers"][::-1]).get(b"user-agent")
    return None if value is None else value.decode("latin-1")


async def _trial_reader(
    conn: HTTPConnection,
    settings: PaywallSettings,
    store: Store,
    tokens: Tokens,
    token: TrialToken,
    device_id: str | None,
    now: float,
    ended: bool,
    cookies: list[str],
) -> Reader:
    try:
        trial = await store.get_trial(token.trial_id)
    except StoreUnavailable:
        # Fail closed, but keep the cookie: the trial works again when the store is back.
        logger.warning("store unavailable while checking a trial on %s", conn.url.path)
        return Reader(level="anonymous", device_id=device_id, trial_ended=ended, set_cookies=tuple(cookies))
    if trial is not None and trial.active(now):
        return Reader(
            level="trial",
            device_id=device_id,
            trial=trial,
            subject=f"trial:{trial.trial_id}",
            set_cookies=tuple(cookies),
        )
    # Unknown (store reset) trials are simply gone; revoked or over ones have ended.
    cookies.append(clear_cookie(settings, conn.scope, settings.trial_cookie))
    if trial is not None:
        # The device remembers that its trial is over, so that the next pages say so
        # instead of offering a trial that the store would refuse.
        ended_at = min(trial.ends_at, now)
        cookies.append(
            device_cookie(
                settings, conn.scope, device_id or trial.device_id, trial_ends_at=ended_at, now=now, tokens=tokens
            )
        )
    return Reader(
        level="anonymous",
        device_id=device_id,
        trial=trial,
        trial_ended=ended or trial is not None,
        set_cookies=tuple(cookies),
    )


# ---------------------------------------------------------------------------
# metering


_TRACKING_PARAMETERS = re.compile(r"^(?:utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl|ref|ref_src)$")


def article_key(scope: Any, canonical: str | None) -> str:
    """What the meter (and the publisher's statistics) count as one article.

    The page's canonical link (``canonical``, as :func:`paywall.engine.canonical_path`
    reads it) when it names a path on this site (it folds the tracking and sharing
    variants of one story into one), else the path and the query without tracking
    parameters: ``/?p=1`` and ``/?p=2`` are two stories, ``/story?utm_source=x`` is ``/story``.
    """
    if canonical is not None:
        return canonical
    return path_article_key(scope["path"], scope.get("query_string", b"").decode("latin-1"))


def path_article_key(path: str, query: str = "") -> str:
    """The article at ``path`` and ``query`` when its page is not at hand: no canonical link to read."""
    if not query:  # most addresses: nothing to parse
        return normalize_path(path)
    pairs = sorted(
        (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _TRACKING_PARAMETERS.match(k.lower())
    )
    path = normalize_path(path)
    return f"{path}?{urlencode(pairs)}" if pairs else path


def meter_period(now: float) -> str:
    """The calendar month (UTC) a free article counts against, e.g. ``"2026-11"``."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def meter_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


async def consume_meter(
    reader: Reader,
    conn: HTTPConnection,
    settings: PaywallSettings,
    store: Store,
    article_key: str,
    *,
    now: float | None = None,
) -> MeterResult | None:
    """Spend (or re-use) a free article; None when metering is off, not needed or the store is down."""
    if settings.free_articles <= 0 or reader.reads_in_full or reader.device_id is None:
        return None
    now = time.time() if now is None else now
    ip = reader_network(conn, settings, wide=False)
    try:
        return await store.meter(
            device_id=reader.device_id,
            article_key=article_key,
            period=meter_period(now),
            limit=settings.free_articles,
            ip=ip,
            day=meter_day(now),
            ip_cap=settings.meter_ip_daily_cap,
        )
    except StoreUnavailable:
        logger.warning("store unavailable while metering %s; showing the teaser", conn.url.path)
        return None


async def free_articles_left(
    reader: Reader, settings: PaywallSettings, store: Store, *, now: float | None = None
) -> int | None:
    """How many free articles this device has left this month; None when not metered or unknown."""
    if settings.free_articles <= 0 or reader.reads_in_full or reader.device_id is None:
        return None
    now = time.time() if now is None else now
    try:
        used = await store.meter_used(device_id=reader.device_id, period=meter_period(now))
    except StoreUnavailable:
        return None
    return max(settings.free_articles - used, 0)


# ---------------------------------------------------------------------------
# addresses and networks


def network_of(address: str, *, v4_prefix: int, v6_prefix: int) -> str:
    """The network an address is counted under, like ``"2001:db8:1:2::/64"``.

    One household or phone has a whole IPv6 /64 (and changes addresses inside
    it at will), so limits meant for "one address" count the network at the
    configured prefix length. An IPv4-mapped IPv6 address counts as IPv4.
    Anything that is not an IP address (a Unix socket peer) is used as it is.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = v4_prefix if ip.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def reader_network(conn: HTTPConnection, settings: PaywallSettings, *, wide: bool) -> str | None:
    """The reader's address (``ip_prefix_*``) or, ``wide``, their network (``network_prefix_*``)."""
    address = client_address(conn.scope, settings.trusted_proxies)
    if address is None:
        return None
    if wide:
        return network_of(address, v4_prefix=settings.network_prefix_v4, v6_prefix=settings.network_prefix_v6)
    return network_of(address, v4_prefix=settings.ip_prefix_v4, v6_prefix=settings.ip_prefix_v6)


#: Trial sign-up counters are kept two days (a day's window, whichever time zone).
TRIAL_QUOTA_SECONDS = 2 * 86400


async def take_trial_quota(conn: HTTPConnection, settings: PaywallSettings, store: Store, *, now: float) -> bool:
    """Count one trial sign-up against the reader's address and network for today.

    False when either has had its ``trial_ip_daily_cap`` / ``trial_network_daily_cap``
    sign-ups today (nothing is counted then). Raises StoreUnavailable.
    """
    caps: dict[str, int] = {}
    address = reader_network(conn, settings, wide=False)
    network = reader_network(conn, settings, wide=True)
    if address is None or network is None:
        return True
    if settings.trial_ip_daily_cap > 0:
        caps[f"address:{address}"] = settings.trial_ip_daily_cap
    if settings.trial_network_daily_cap > 0:
        caps["network"] = settings.trial_network_daily_cap
    if not caps:
        return True
    # One bucket per network and day: its counters share a hash slot on Redis Cluster.
    bucket = f"trial:{meter_day(now)}:{network}"
    return await store.take_quota(bucket=bucket, caps=caps, ttl=TRIAL_QUOTA_SECONDS)


# ---------------------------------------------------------------------------
# e-mail addresses

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(
    rf"{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})",
    re.ASCII,
)


def is_valid_email(text: str) -> bool:
    """A practical RFC 5322 subset: dot-atom local part, DNS host name, at most 254 characters.

    Quoted local parts, comments and address literals are refused: real
    readers do not use them, and they are where injection tricks hide.
    """
    if len(text) > 254 or not _EMAIL_RE.fullmatch(text):
        return False
    local = text.rpartition("@")[0]
    return len(local) <= 64


#: Domains that are one mailbox under two names.
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


def normalize_email(text: str, *, fold_plus: bool, dotless_domains: tuple[str, ...] = ()) -> str:
    """The form under which one reader's address is stored: trimmed, lower-case, tag folded.

    With ``fold_plus``, ``reader+news@example.com`` is the same reader as
    ``reader@example.com`` (one trial per person, not per tag). For domains in
    ``dotless_domains`` (Gmail ignores dots: ``r.e.a.d.e.r@gmail.com`` is
    ``reader@gmail.com``) the dots of the local part are dropped, and
    ``googlemail.com`` is ``gmail.com``.
    """
    email = text.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    if fold_plus and "+" in local:
        local = local.split("+", 1)[0] or local
    if domain in dotless_domains:
        local = local.replace(".", "") or local
        domain = _DOMAIN_ALIASES.get(domain, domain)
    return f"{local}@{domain}"


def reader_email(text: str, settings: PaywallSettings) -> str:
    """``text`` normalised as these settings say one reader's address is stored."""
    return normalize_email(
        text,
        fold_plus=settings.plus_addressing_is_same_reader,
        dotless_domains=settings.dot_insensitive_domains,
    )
