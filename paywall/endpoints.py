"""The paywall's own pages, everything under ``settings.prefix``.

* ``GET  {prefix}/trial?next=/path``   the trial form (CSRF token bound to the device cookie)
* ``POST {prefix}/trial``              start the trial (or send the confirmation e-mail), 303 to ``next``
* ``GET  {prefix}/trial/confirm``      the signed link from the confirmation e-mail
* ``GET  {prefix}/status``             JSON: access level, trial end, free articles left
* ``GET  {prefix}/<name>.<hash>.js|css``  the static files (copy protection, the call to action's look), cached a year
* ``GET  {prefix}/admin``, ``POST {prefix}/beacon``  the publisher's dashboard and the copy beacon (:mod:`.insights`)
* anything else                        a 404 page

Nothing here trusts the request: bodies are bounded before they are read,
forms must be URL-encoded UTF-8, the CSRF token must match the device cookie,
``next`` is followed only to a path on this site, and every echoed value is
escaped. A store that is down gives a "try again later" page, never a 500.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from .access import (
    Reader,
    device_cookie,
    identify,
    is_valid_email,
    read_device,
    reader_email,
    take_trial_quota,
    trial_cookie,
)
from .credentials import Credentials
from .cta import trial_url
from .errors import StoreUnavailable
from .httputil import is_https, parse_content_type
from .insights import Insights
from .reader_state import reader_access
from .settings import PaywallSettings
from .static import ASSET_CACHE_CONTROL, StaticFiles
from .store.base import Store, Trial, TrialOutcome
from .templates import (
    PAGE_CSP,
    TEMPLATE_CSP,
    TrialForm,
    ended_action,
    ended_title,
    render_message,
    render_trial_form,
)
from .tokens import CONFIRM, CSRF, InvalidToken, load_device_token

logger = logging.getLogger("paywall")

#: How long a trial form may stay open before its CSRF token expires.
CSRF_MAX_AGE = 4 * 3600
#: How long an e-mail confirmation link works.
CONFIRM_MAX_AGE = 24 * 3600
_MAX_NEXT_LENGTH = 2048
_MAX_FORM_FIELDS = 8
_NEXT_SAFE_CHARS = "/?&=#%:;@!$'()*+,~-._[]"
_HOST_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?", re.ASCII)


# ---------------------------------------------------------------------------
# redirect targets


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site, else ``"/"``.

    Browsers are lenient about what they treat as another origin (``//host``,
    ``/\\host``, tabs and newlines inside the scheme...), and some servers
    decode paths again before redirecting; so the value and each of its
    percent-decodings must all be plain absolute paths.
    """
    if not value or len(value) > _MAX_NEXT_LENGTH:
        return "/"
    candidate = value
    for _ in range(4):
        if not _plain_path(candidate):
            return "/"
        decoded = unquote(candidate, errors="replace") if "%" in candidate else candidate
        if decoded == candidate:
            break
        candidate = decoded
    else:
        return "/"  # still decoding after several rounds: crafted, not a real link
    return quote(value, safe=_NEXT_SAFE_CHARS)


def _plain_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith(("//", "/\\")):
        return False
    for char in path:
        if char == "\\" or (char != " " and (char.isspace() or unicodedata.category(char)[0] in "CZ")):
            return False
    parts = urlsplit(path)
    return not parts.scheme and not parts.netloc


# ---------------------------------------------------------------------------
# responses


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    cookies: tuple[str, ...] = ()


class _PayloadTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class Endpoints:
    """ASGI app for every path under ``settings.prefix``.

    ``clock`` returns the current time in seconds; tests move it instead of sleeping.
    """

    def __init__(
        self,
        settings: PaywallSettings,
        store: Store,
        *,
        static: StaticFiles | None = None,
        insights: Insights | None = None,
        clock: Callable[[], float] = time.time,
        credentials: Credentials | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.static = static or StaticFiles(settings.prefix)
        #: The runtime's credentials, or made here (reading the JWT key) for endpoints on their own.
        self.credentials = Credentials.load(settings) if credentials is None else credentials
        self.tokens = self.credentials.tokens
        self.insights = insights or Insights(settings, store, clock=clock, tokens=self.tokens)
        self.clock = clock

    # -- dispatch -------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        if self.insights.handles(scope["path"]):
            await self.insights(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            reply = await self._route(request)
        except _ClientGone:
            return
        except Exception:
            logger.exception("paywall endpoint failed on %s", scope.get("path", ""))
            reply = self._message(
                500, "Something went wrong", "Please try again in a moment.", (("Back to the home page", "/"),)
            )
        await self._send(scope, send, reply)

    async def _route(self, request: Request) -> _Reply:
        path: str = request.scope["path"]
        sub = path[len(self.settings.prefix) :] if path.startswith(self.settings.prefix + "/") else ""
        method = request.method
        if sub == "/trial":
            if method in ("GET", "HEAD"):
                return await self._trial_form(request)
            if method == "POST":
                return await self._trial_submit(request)
            return self._not_allowed("GET, HEAD, POST")
        if sub == "/trial/confirm":
            if method in ("GET", "HEAD"):
                return await self._trial_confirm(request)
            return self._not_allowed("GET, HEAD")
        if sub == "/status":
            if method in ("GET", "HEAD"):
                return await self._status(request)
            return self._not_allowed("GET, HEAD")
        if method in ("GET", "HEAD"):
            asset = self._asset(path)
            if asset is not None:
                return asset
        return self._message(
            404, "Page not found", "There is nothing at this address.", (("Back to the home page", "/"),)
        )

    # -- pages ----------------------------------------------------------
    def _message(
        self, status: int, title: str, message: str, actions: tuple[tuple[str, str], ...] = (), **extra: Any
    ) -> _Reply:
        body = render_message(self.settings, title=title, message=message, actions=actions)
        return _Reply(status, body.encode(), **extra)

    def _not_allowed(self, allow: str) -> _Reply:
        reply = self._message(405, "Method not allowed", "This address does not accept that kind of request.")
        reply.headers.append(("allow", allow))
        return reply

    def _form_page(
        self,
        status: int,
        request: Request,
        next_path: str,
        device_id: str,
        *,
        article: str = "",
        email: str = "",
        error: str = "",
        error_field: Literal["email", "consent"] = "email",
        cookies: tuple[str, ...] = (),
    ) -> _Reply:
        now = self.clock()
        form = TrialForm(
            action=self.settings.trial_path(),
            next_path=next_path,
            csrf_token=self.tokens.sign(CSRF, {"d": device_id}, now=now),
            article=article,
            email=email,
            error=error,
            error_field=error_field,
        )
        return _Reply(status, render_trial_form(self.settings, form).encode(), cookies=cookies)

    async def _trial_form(self, request: Request) -> _Reply:
        now = self.clock()
        next_path = safe_next(request.query_params.get("next"))
        reader = await identify(request, self.settings, self.store, now=now, credentials=self.credentials)
        if reader.level == "member":
            return self._message(
                200,
                "You are a member",
                "You can already read every article in full.",
                (("Back to the article", next_path),),
                cookies=reader.set_cookies,
            )
        if reader.level == "trial" and reader.trial is not None:
            end = datetime.fromtimestamp(reader.trial.ends_at, UTC)
            ends = f"{end.day} {end:%B %Y}"
            return self._message(
                200,
                "Your free trial is running",
                f"You can read every article in full until {ends}.",
                (("Back to the article", next_path),),
                cookies=reader.set_cookies,
            )
        # identify() has read the device already (and may clear a dead trial cookie);
        # a reader it gave no device id (no metering) gets one here, for the CSRF token.
        cookies = reader.set_cookies
        device_id = reader.device_id
        if device_id is None:
            device = read_device(request, self.settings, now=now, tokens=self.tokens)
            device_id, cookies = device.device_id, cookies + device.set_cookies
        article = _article_field(request.query_params.get("a"))
        self.insights.trial_step("trial_page_viewed", request, next_path, article)
        return self._form_page(200, request, next_path, device_id, article=article, cookies=cookies)

    # -- POST /trial ----------------------------------------------------
    async def _trial_submit(self, request: Request) -> _Reply:
        settings = self.settings
        media, charset = parse_content_type(request.headers.get("content-type"))
        if media != "application/x-www-form-urlencoded" or (charset and charset.lower() not in ("utf-8", "utf8")):
            return self._message(
                415,
                "Unsupported form",
                "This form must be sent by a web browser as a regular form.",
                (("Open the form again", settings.trial_path()),),
            )
        try:
            body = await _read_body(request, settings.max_form_bytes)
        except _PayloadTooLarge:
            return self._message(
                413,
                "Form too large",
                "What was sent is larger than this form allows.",
                (("Open the form again", settings.trial_path()),),
            )
        form = _parse_form(body)
        if form is None:
            return self._message(
                400,
                "The form could not be read",
                "Please fill in the form again.",
                (("Open the form again", settings.trial_path()),),
            )
        next_path = safe_next(form.get("next"))
        source = TrialSource(_article_field(form.get("a")), "cta" if form.get("via") == "cta" else "page")
        now = self.clock()

        device_id = self._device_for_csrf(request, now)
        if device_id is None or not self._csrf_ok(form.get("csrf", ""), device_id, now):
            return self._message(
                403,
                "Please try again",
                "This form has expired or your browser blocked its cookie. Open the form again and resend it "
                "(the trial needs cookies to work).",
                (("Open the form again", trial_url(self.settings, next_path)), ("Back to the article", next_path)),
            )

        typed = form.get("email", "").strip()
        if not is_valid_email(typed):
            error = (
                "Enter your e-mail address." if not typed else "Enter a valid e-mail address, like name@example.com."
            )
            return self._form_page(
                400, request, next_path, device_id, article=source.article, email=typed[:320], error=error
            )
        if not form.get("consent"):
            error = "Please agree to the privacy policy and terms of use to start your trial."
            return self._form_page(
                400, request, next_path, device_id, article=source.article, email=typed, error=error,
                error_field="consent",
            )  # fmt: skip
        email = reader_email(typed, settings)
        if not await self._email_accepted(typed):
            error = "This e-mail address cannot be used for a free trial. Please use your own address."
            return self._form_page(400, request, next_path, device_id, article=source.article, email=typed, error=error)

        try:
            allowed = await take_trial_quota(request, settings, self.store, now=now)
        except StoreUnavailable:
            logger.warning("store unavailable while counting a trial sign-up")
            return self._unavailable(next_path)
        if not allowed:
            reply = self._message(
                429,
                "Too many sign-ups from your network",
                "Too many free trials were started from your internet connection today. "
                "Please try again tomorrow, or become a member to read now.",
                ((ended_action(settings), settings.subscribe_url), ("Back to the article", next_path)),
            )
            reply.headers.append(("retry-after", "86400"))
            return reply

        if settings.email_confirmation:
            return await self._send_confirmation(request, email, typed, device_id, next_path, source, now)
        return await self._start(request, email, device_id, next_path, source, now)

    async def _email_accepted(self, typed: str) -> bool:
        """The publisher's ``email_filter`` (disposable domains...); a filter that fails refuses."""
        check = self.settings.email_filter
        if check is None:
            return True
        try:
            answer = check(typed)
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception:
            logger.exception("email_filter failed; the sign-up was refused")
            return False
        return answer is True

    def _device_for_csrf(self, request: Request, now: float) -> str | None:
        raw = request.cookies.get(self.settings.device_cookie)
        try:
            return load_device_token(self.tokens, raw, now=now).device_id
        except InvalidToken:
            return None

    def _csrf_ok(self, token: str, device_id: str, now: float) -> bool:
        try:
            payload = self.tokens.verify(CSRF, token, max_age=CSRF_MAX_AGE, now=now)
        except InvalidToken:
            return False
        bound = payload.get("d") if isinstance(payload, dict) else None
        return isinstance(bound, str) and hmac.compare_digest(bound.encode(), device_id.encode())

    async def _start(
        self, request: Request, email: str, device_id: str, next_path: str, source: TrialSource, now: float
    ) -> _Reply:
        settings = self.settings
        try:
            result = await self.store.start_trial(
                trial_id=secrets.token_urlsafe(16),
                email=email,
                device_id=device_id,
                started_at=now,
                ends_at=now + settings.trial_days * 86400,
            )
        except StoreUnavailable:
            logger.warning("store unavailable while starting a trial")
            return self._unavailable(next_path)
        trial = result.trial
        if result.outcome is TrialOutcome.STARTED and trial is not None:
            await self._record({"type": "trial_started", "trial_id": trial.trial_id, "at": now})
            self.insights.trial_step("trial_started", request, next_path, source.article, source.via)
            return self._granted(request, trial, next_path, now)
        if trial is not None and trial.device_id == device_id and trial.active(now):
            # Same reader on the same device asking again: give back what they already have.
            return self._granted(request, trial, next_path, now)
        self.insights.trial_step("trial_refused", request, next_path, source.article, result.outcome.value)
        return self._refused(result.outcome, trial, next_path, now)

    def _granted(self, request: Request, trial: Trial, next_path: str, now: float) -> _Reply:
        cookies = (
            trial_cookie(self.settings, request.scope, trial, now=now, tokens=self.tokens),
            device_cookie(
                self.settings, request.scope, trial.device_id, trial_ends_at=trial.ends_at, now=now, tokens=self.tokens
            ),
        )
        return _Reply(303, b"", headers=[("location", next_path)], cookies=cookies)

    def _refused(self, outcome: TrialOutcome, trial: Trial | None, next_path: str, now: float) -> _Reply:
        settings = self.settings
        actions = ((ended_action(settings), settings.subscribe_url), ("Back to the article", next_path))
        active = trial is not None and trial.active(now)
        if outcome is TrialOutcome.EMAIL_TAKEN and active:
            title = "This e-mail address already has a free trial"
            message = (
                "A free trial is already running for this address on another device or browser. "
                "Keep reading there, or become a member to read everywhere."
            )
        elif outcome is TrialOutcome.EMAIL_TAKEN:
            title = ended_title(settings)
            message = "A free trial was already used with this e-mail address. Become a member to keep reading."
        else:
            title = "A free trial was already used on this device"
            message = "Each device can start one free trial. Become a member to keep reading."
        return self._message(409, title, message, actions)

    def _unavailable(self, next_path: str) -> _Reply:
        reply = self._message(
            503,
            "Please try again later",
            "We cannot start trials right now. Nothing was lost: please try again in a few minutes.",
            (("Back to the article", next_path),),
        )
        reply.headers.append(("retry-after", "60"))
        return reply

    async def _record(self, event: dict[str, Any]) -> None:
        try:
            await self.store.record_event(event)
        except StoreUnavailable:
            logger.warning("store unavailable while recording an event")

    # -- e-mail confirmation -------------------------------------------
    async def _send_confirmation(
        self,
        request: Request,
        email: str,
        typed: str,
        device_id: str,
        next_path: str,
        source: TrialSource,
        now: float,
    ) -> _Reply:
        sender = self.settings.email_sender
        assert sender is not None  # settings require it with email_confirmation
        payload = {"e": email, "d": device_id, "n": next_path, "a": source.article, "v": source.via}
        token = self.tokens.sign(CONFIRM, payload, now=now)
        url = f"{_base_url(request, self.settings)}{self.settings.trial_path()}/confirm?token={quote(token, safe='')}"
        try:
            result = sender(typed, url)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("email_sender failed; no trial confirmation was sent")
            reply = self._message(
                503,
                "Please try again later",
                "We could not send the confirmation e-mail. Please try again soon.",
                (("Open the form again", trial_url(self.settings, next_path)), ("Back to the article", next_path)),
            )
            reply.headers.append(("retry-after", "60"))
            return reply
        return self._message(
            200,
            "Check your inbox",
            f"We sent a link to {typed}. Open it in the next 24 hours to start your free trial.",
            (("Back to the article", next_path),),
        )

    async def _trial_confirm(self, request: Request) -> _Reply:
        now = self.clock()
        try:
            payload = self.tokens.verify(CONFIRM, request.query_params.get("token"), max_age=CONFIRM_MAX_AGE, now=now)
            email, device_id, next_raw = payload["e"], payload["d"], payload["n"]
            if not all(isinstance(v, str) for v in (email, device_id, next_raw)):
                raise InvalidToken("malformed confirmation token")
        except (InvalidToken, KeyError, TypeError):
            return self._message(
                400,
                "This link does not work",
                "The confirmation link is incomplete or has expired. Please ask for a new one.",
                (("Start again", self.settings.trial_path()),),
            )
        source = TrialSource(_article_field(payload.get("a")), "cta" if payload.get("v") == "cta" else "page")
        return await self._start(request, email, device_id, safe_next(next_raw), source, now)

    # -- status ---------------------------------------------------------
    async def _status(self, request: Request) -> _Reply:
        now = self.clock()
        reader: Reader = await identify(request, self.settings, self.store, now=now, credentials=self.credentials)
        access = await reader_access(reader, self.settings, self.store, now=now)
        body = json.dumps(access.as_json()).encode()
        return _Reply(
            200, body, "application/json", headers=[("vary", "Cookie, Authorization")], cookies=reader.set_cookies
        )

    # -- assets ---------------------------------------------------------
    def _asset(self, path: str) -> _Reply | None:
        found = self.static.get(path)
        if found is None:
            return None
        body, content_type = found
        return _Reply(200, body, content_type, headers=[("cache-control", ASSET_CACHE_CONTROL)])

    # -- sending --------------------------------------------------------
    async def _send(self, scope: Scope, send: Send, reply: _Reply) -> None:
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", reply.content_type.encode("latin-1")),
            (b"content-length", str(len(reply.body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        names = {name for name, _ in reply.headers}
        if "cache-control" not in names:
            headers.append((b"cache-control", b"no-store"))
        if reply.content_type.startswith("text/html"):
            headers.append((b"x-frame-options", b"DENY"))
            # A publisher's trial_template may load its own styles and scripts: its pages keep
            # the rules that cannot break a page (no framing, forms post here, no <base>).
            policy = PAGE_CSP if self.settings.trial_template is None else TEMPLATE_CSP
            headers.append((b"content-security-policy", policy.encode()))
        headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers)
        headers.extend((b"set-cookie", c.encode("latin-1")) for c in reply.cookies)
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        body = b"" if scope.get("method") == "HEAD" else reply.body
        await send({"type": "http.response.body", "body": body, "more_body": False})


# ---------------------------------------------------------------------------
# request helpers


@dataclass(frozen=True, slots=True)
class TrialSource:
    """Where a trial request came from, for the statistics: the article, and ``cta`` or ``page``."""

    article: str
    via: Literal["cta", "page"]


def _article_field(value: object) -> str:
    """The article a call to action named (a site path), else ""; only ever counted, never followed."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > _MAX_NEXT_LENGTH:
        return ""
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading them."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _PayloadTooLarge
        except ValueError:
            raise _PayloadTooLarge from None
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _PayloadTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse_form(body: bytes) -> dict[str, str] | None:
    """URL-encoded UTF-8 fields, each at most once; None when malformed."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=_MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields or "\x00" in value:
            return None
        fields[name] = value
    return fields


def _base_url(request: Request, settings: PaywallSettings) -> str:
    """Scheme and host for absolute links in e-mails.

    ``public_url`` wins when set, because a Host header is the client's word;
    without it a malformed Host falls back to the server address.
    """
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = "https" if is_https(request.scope, settings.trusted_proxies) else "http"
    host = request.headers.get("host", "")
    if not _HOST_RE.fullmatch(host):
        server = request.scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scheme}://{host}"
