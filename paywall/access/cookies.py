"""``Set-Cookie`` values for the reader's cookies.

Made as strings because the middleware adds them to the host app's own
response headers, where no Starlette ``Response`` (and its ``set_cookie``) exists.
"""

from __future__ import annotations

from http.cookies import SimpleCookie


def set_cookie_header(
    name: str,
    value: str,
    *,
    max_age: int | None,
    secure: bool,
    httponly: bool = True,
    samesite: str = "Lax",
    path: str = "/",
    domain: str | None = None,
) -> str:
    """One ``Set-Cookie`` value. ``max_age=None`` makes a session cookie."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = path
    if max_age is not None:
        morsel["max-age"] = max_age
    if domain:
        morsel["domain"] = domain
    if secure:
        morsel["secure"] = True
    if httponly:
        morsel["httponly"] = True
    morsel["samesite"] = samesite
    return morsel.OutputString()


def delete_cookie_header(name: str, *, secure: bool, path: str = "/", domain: str | None = None) -> str:
    return set_cookie_header(name, "", max_age=0, secure=secure, path=path, domain=domain) + (
        "; expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )
