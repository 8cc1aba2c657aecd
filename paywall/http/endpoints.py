"""The paywall's own pages, everything under ``settings.prefix``.

* ``GET  {prefix}/trial?next=/path``   the trial form (CSRF token bound to the device cookie)
* ``POST {prefix}/trial``              start the trial (or send the confirmation e-mail), 303 to ``next``
* ``GET  {prefix}/trial/confirm``      the signed link from the confirmation e-mail
* ``GET  {prefix}/status``             JSON: access level, trial end, free articles left
* ``GET  {prefix}/feed-url?feed=/feed/``  JSON: the reader's private feed address (members and trial readers)
* ``GET  {prefix}/<name>.<hash>.js|css``  the static files (copy protection, the call to action's look), cached a year
* ``GET  {prefix}/admin``, ``POST {prefix}/beacon``  the publisher's dashboard and the copy beacon (:mod:`.insights`)
* anything else                        a 404 page

Nothing here trusts the request: bodies are bounded before they are read,
forms must be URL-encoded UTF-8, the CSRF token must match the device cookie,
``next`` is followed only to a path on this site, and every echoed value is
escaped. A store that is down gives a "try again later" page, never a 500.
"""

from __future__ import annotations

import contextlib
import hmac
import inspect
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from starlette.datastructures import URL, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Message, Receive, Scope, Send

from ..access.credentials import Credentials
from ..access.member_feeds import FEED_KEY_PARAMETER, key_for
from ..access.network import is_https
from ..access.reader_state import reader_access
from ..access.readers import (
    Reader,
    device_cookie,
    identify,
    is_valid_email,
    read_device,
    reader_email,
    take_trial_quota,
    trial_cookie,
)
from ..access.store.base import Store, Trial, TrialOutcome
from ..access.tokens import CONFIRM, CSRF, InvalidToken, load_device_token
from ..errors import StoreUnavailable
from ..insights import Insights
from ..pages.cta import trial_url
from ..pages.templates import (
    PAGE_CSP,
    TEMPLATE_CSP,
    TrialForm,
    ended_action,
    ended_title,
    render_message,
    render_trial_form,
)
from ..protection.assets import ASSET_CACHE_CONTROL, Assets
from ..settings import PaywallSettings
from .headers import parse_content_type, without_bodies

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
# the router


class Endpoints:
    """ASGI app for every path under ``settings.prefix``: one Starlette ``Router``.

    Unknown paths get the 404 page and known paths asked with another method
    the 405 page with its ``Allow`` header, both from the router's own
    ``HTTPException``; an endpoint that fails gets a 500 page, never a bare error.
    ``clock`` returns the current time in seconds; tests move it instead of sleeping.
    """

    def __init__(
        self,
        settings: PaywallSettings,
        store: Store,
        *,
        assets: Assets | None = None,
        insights: Insights | None = None,
        clock: Callable[[], float] = time.time,
        credentials: Credentials | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.assets = assets or Assets(settings.prefix)
        #: The runtime's credentials, or made here (reading the JWT key) for endpoints on their own.
        self.credentials = Credentials.load(settings) if credentials is None else credentials
        self.tokens = self.credentials.tokens
        self.insights = insights or Insights(settings, store, clock=clock, tokens=self.tokens)
        self.clock = clock
        trial = settings.trial_path()
        routes: list[BaseRoute] = [
            Route(trial, self._trial, methods=["GET", "POST"]),
            Route(f"{trial}/confirm", self._trial_confirm, methods=["GET"]),
            Route(f"{settings.prefix}/status", self._status, methods=["GET"]),
            Route(f"{settings.prefix}/feed-url", self._feed_url, methods=["GET"]),
            *(Route(path, self._asset, methods=["GET"]) for path in self.assets.paths),
            *self.insights.routes,
        ]
        self.router = ExceptionMiddleware(
            Router(routes, redirect_slashes=False), handlers={HTTPException: self._http_error, Exception: self._failed}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        # ``app`` in the scope makes the router raise its 404 and 405 for the handlers above.
        scope = {**scope, "app": self}
        send = self._with_page_headers(send)
        with contextlib.suppress(ClientDisconnect):  # nobody is left to answer
            await self.router(scope, receive, without_bodies(send) if scope["method"] == "HEAD" else send)

    def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            response = self._message(405, "Method not allowed", "This address does not accept that kind of request.")
            response.headers.update(exc.headers or {})
            return response
        return self._message(
            404, "Page not found", "There is nothing at this address.", (("Back to the home page", "/"),)
        )

    def _failed(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):
            raise exc  # nobody is listening: nothing to answer (see __call__)
        logger.error("paywall endpoint failed on %s", request.url.path, exc_info=exc)
        return self._message(
            500, "Something went wrong", "Please try again in a moment.", (("Back to the home page", "/"),)
        )

    async def _reader(self, request: Request, now: float) -> Reader:
        return await identify(request, self.settings, self.store, now=now, credentials=self.credentials)

    # -- pages ----------------------------------------------------------
    def _message(
        self,
        status: int,
        title: str,
        message: str,
        actions: tuple[tuple[str, str], ...] = (),
        *,
        cookies: tuple[str, ...] = (),
        retry_after: int | None = None,
    ) -> Response:
        body = render_message(self.settings, title=title, message=message, actions=actions)
        response = _with_cookies(HTMLResponse(body, status), cookies)
        if retry_after is not None:
            response.headers["retry-after"] = str(retry_after)
        return response

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
    ) -> Response:
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
        return _with_cookies(HTMLResponse(render_trial_form(self.settings, form), status), cookies)

    async def _trial(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._trial_submit(request)
        return await self._trial_form(request)

    async def _trial_form(self, request: Request) -> Response:
        now = self.clock()
        next_path = safe_next(request.query_params.get("next"))
        reader = await self._reader(request, now)
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
    async def _trial_submit(self, request: Request) -> Response:
        settings = self.settings
        media, charset = parse_content_type(request.headers.get("content-type"))
        if media != "application/x-www-form-urlencoded" or (charset and charset.lower() not in ("utf-8", "utf8")):
            return self._message(
                415,
                "Unsupported form",
                "This form must be sent by a web browser as a regular form.",
                (("Open the form again", settings.trial_path()),),
            )
        body = await _read_body(request, settings.max_form_bytes)
        if body is None:
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
            return self._message(
                429,
                "Too many sign-ups from your network",
                "Too many free trials were started from your internet connection today. "
                "Please try again tomorrow, or become a member to read now.",
                ((ended_action(settings), settings.subscribe_url), ("Back to the article", next_path)),
                retry_after=86400,
            )

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
    ) -> Response:
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

    def _granted(self, request: Request, trial: Trial, next_path: str, now: float) -> Response:
        cookies = (
            trial_cookie(self.settings, request.scope, trial, now=now, tokens=self.tokens),
            device_cookie(
                self.settings, request.scope, trial.device_id, trial_ends_at=trial.ends_at, now=now, tokens=self.tokens
            ),
        )
        return _with_cookies(RedirectResponse(next_path, 303), cookies)

    def _refused(self, outcome: TrialOutcome, trial: Trial | None, next_path: str, now: float) -> Response:
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

    def _unavailable(self, next_path: str) -> Response:
        return self._message(
            503,
            "Please try again later",
            "We cannot start trials right now. Nothing was lost: please try again in a few minutes.",
            (("Back to the article", next_path),),
            retry_after=60,
        )

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
    ) -> Response:
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
            return self._message(
                503,
                "Please try again later",
                "We could not send the confirmation e-mail. Please try again soon.",
                (("Open the form again", trial_url(self.settings, next_path)), ("Back to the article", next_path)),
                retry_after=60,
            )
        return self._message(
            200,
            "Check your inbox",
            f"We sent a link to {typed}. Open it in the next 24 hours to start your free trial.",
            (("Back to the article", next_path),),
        )

    async def _trial_confirm(self, request: Request) -> Response:
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
    async def _status(self, request: Request) -> Response:
        now = self.clock()
        reader = await self._reader(request, now)
        access = await reader_access(reader, self.settings, self.store, now=now)
        response = JSONResponse(access.as_json(), headers={"vary": "Cookie, Authorization"})
        return _with_cookies(response, reader.set_cookies)

    # -- private feeds --------------------------------------------------
    async def _feed_url(self, request: Request) -> Response:
        """The reader's own address of the feed at ``feed`` (a path on this site), with a key that ends with
        their access (:mod:`paywall.access.member_feeds`); 403 for a reader who has no such access to give."""
        now = self.clock()
        reader = await self._reader(request, now)
        key = key_for(request, reader, self.settings, self.credentials, now=now)
        headers = {"vary": "Cookie, Authorization"}
        if key is None:
            body = {"error": "not_a_member", "message": "Private feeds are for members and trial readers."}
            return _with_cookies(JSONResponse(body, 403, headers), reader.set_cookies)
        feed = safe_next(request.query_params.get("feed"))
        url = URL(_base_url(request, self.settings) + feed).include_query_params(**{FEED_KEY_PARAMETER: key})
        return _with_cookies(JSONResponse({"url": str(url)}, headers=headers), reader.set_cookies)

    # -- assets ---------------------------------------------------------
    async def _asset(self, request: Request) -> Response:
        body, content_type = self.assets.files[request.url.path]
        return Response(body, media_type=content_type, headers={"cache-control": ASSET_CACHE_CONTROL})

    # -- headers every answer carries -------------------------------------
    def _with_page_headers(self, send: Send) -> Send:
        """No sniffing, no referrer abroad, no caching unless said, and for pages no framing and a CSP."""
        # A publisher's trial_template may load its own styles and scripts: its pages keep
        # the rules that cannot break a page (no framing, forms post here, no <base>).
        policy = PAGE_CSP if self.settings.trial_template is None else TEMPLATE_CSP

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("cache-control", "no-store")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("x-frame-options", "DENY")
                    headers.setdefault("content-security-policy", policy)
            await send(message)

        return wrapped


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


def _with_cookies(response: Response, cookies: tuple[str, ...]) -> Response:
    """``response`` with the reader's cookies, made by :mod:`.access` as ready ``Set-Cookie`` values."""
    for cookie in cookies:
        response.headers.append("set-cookie", cookie)
    return response


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes (refused before reading it)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():  # raises ClientDisconnect when the client goes away
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


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
    without it a malformed Host falls back to the server address. (Not
    ``request.base_url``: it takes any Host as sent, and the scheme from the
    connection even behind a trusted TLS proxy.)
    """
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = "https" if is_https(request.scope, settings.trusted_proxies) else "http"
    host = request.headers.get("host", "")
    if not _HOST_RE.fullmatch(host):
        server = request.scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scheme}://{host}"
