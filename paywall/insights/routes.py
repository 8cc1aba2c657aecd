"""The insights' own addresses under ``settings.prefix``: the dashboard and the copy beacon.

* ``GET {prefix}/admin[?since=30d]``  the dashboard, behind ``admin_password`` (HTTP Basic, any user name);
  without a password set the address does not exist
* ``POST {prefix}/beacon``            the protection script reports a blocked copy (204, always)

The password is compared in constant time (digests of equal length), and
wrong passwords are rate-limited per client address and overall before any
comparison is made, so guessing costs the guesser time, not the server.
Beacons are counted at most a few a minute per reader (device cookie, else
address), and only from this site's own pages (``Origin``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ..access.network import client_address
from ..access.readers import path_article_key
from ..access.tokens import InvalidToken, load_device_token
from ..errors import StoreUnavailable
from ..pages.templates import PAGE_CSP, render_message
from .dashboard import DASHBOARD_CSP, render_dashboard
from .events import RateLimiter
from .stats import build_report, parse_since

if TYPE_CHECKING:
    from . import Insights

#: Largest beacon body read.
MAX_BEACON_BYTES = 2048
_PAGE_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex, nofollow",
}


class InsightRoutes:
    """The insights' addresses, as routes of the paywall's own pages, and what answers them."""

    def __init__(self, insights: Insights) -> None:
        self.insights = insights
        self.settings = settings = insights.settings
        prefix = settings.prefix
        self.routes: list[BaseRoute] = [Route(f"{prefix}/beacon", self.beacon, methods=["POST"])]
        if settings.admin_password is not None:
            self.routes.append(Route(f"{prefix}/admin", self.admin, methods=["GET"]))
            self._password = hashlib.sha256(settings.admin_password.encode()).digest()
        #: Wrong passwords: ten per address, then one every 30 s; and 60 a minute from everyone.
        self.failures = RateLimiter(burst=10, every=30.0)
        self.all_failures = RateLimiter(burst=60, every=1.0)
        #: Counted beacons: three per reader, then one a minute.
        self.beacons = RateLimiter(burst=3, every=60.0)

    # ---------------------------------------------------------------- dashboard
    def _message(self, status: int, title: str, message: str, headers: dict[str, str] | None = None) -> Response:
        body = render_message(self.settings, title=title, message=message)
        return HTMLResponse(
            body, status, headers={**_PAGE_HEADERS, "content-security-policy": PAGE_CSP, **(headers or {})}
        )

    def _password_ok(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        given = hashlib.sha256(decoded.partition(":")[2].encode()).digest()
        return hmac.compare_digest(given, self._password)

    async def admin(self, request: Request) -> Response:
        now = self.insights.clock()
        address = client_address(request.scope, self.settings.trusted_proxies) or "unknown"
        if not (self.failures.allow(address, now, spend=False) and self.all_failures.allow("*", now, spend=False)):
            return self._message(
                429, "Too many attempts", "Wait a minute before trying the password again.", {"retry-after": "60"}
            )
        authorization = request.headers.get("authorization")
        if not self._password_ok(authorization):
            if authorization:
                self.failures.allow(address, now)
                self.all_failures.allow("*", now)
            return self._message(
                401,
                "Password needed",
                "The dashboard needs the admin password.",
                {"www-authenticate": 'Basic realm="paywall insights", charset="UTF-8"'},
            )
        today = datetime.datetime.fromtimestamp(now, datetime.UTC).date()
        since_text = request.query_params.get("since", "30d")
        try:
            since = parse_since(since_text, today)
        except ValueError as exc:
            return self._message(400, "Unknown period", f"since: {exc}.")
        try:
            counts = await self.insights.store.event_counts(since_day=since.isoformat(), until_day=today.isoformat())
        except StoreUnavailable:
            return self._message(
                503, "Store unavailable", "The figures cannot be read right now.", {"retry-after": "60"}
            )
        names = [v.name for v in self.insights.experiment.variants]
        report = build_report(counts, since=since, until=today, variants=names)
        body = render_dashboard(self.settings, report, since_text)
        return HTMLResponse(body, headers={**_PAGE_HEADERS, "content-security-policy": DASHBOARD_CSP})

    # ---------------------------------------------------------------- beacon
    async def beacon(self, request: Request) -> Response:
        done = Response(status_code=204, headers={"cache-control": "no-store"})
        body = b""
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BEACON_BYTES:
                    return Response(status_code=413)
        except ClientDisconnect:
            return done
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != self._host(request):
            return done  # another site's page: not ours to count
        page = urlsplit(body.decode("utf-8", "replace").strip())
        if not page.path.startswith("/"):
            return done
        if self.beacons.allow(self._reader_key(request), self.insights.clock()):
            self.insights.record("copy_blocked", article=path_article_key(page.path, page.query))
        return done

    def _host(self, request: Request) -> str:
        if self.settings.public_url:
            return urlsplit(self.settings.public_url).netloc
        return request.headers.get("host", "")

    def _reader_key(self, request: Request) -> str:
        try:
            cookie = request.cookies.get(self.settings.device_cookie)
            return "d:" + load_device_token(self.insights.tokens, cookie).device_id
        except InvalidToken:
            return "a:" + (client_address(request.scope, self.settings.trusted_proxies) or "unknown")
