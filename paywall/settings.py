"""Typed, immutable settings that check themselves when they are made.

A paywall that starts with a wrong setting gives articles away or locks
readers out; so every field is validated in ``__post_init__`` and a bad value
raises one :class:`~paywall.errors.ConfigError` naming the field, at start-up.

The same coercion serves the three textual sources (``PAYWALL_*`` environment
variables, the TOML file and command-line flags): see :meth:`PaywallSettings.from_mapping`.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import ipaddress
import json
import math
import os
import re
import string
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

from .errors import ConfigError
from .search_engines import parse_crawlers
from .variants import TEXT_PLACEHOLDERS, parse_variants

MemberResolver = Callable[[Any], "bool | Awaitable[bool]"]
EmailSender = Callable[[str, str], "Awaitable[None] | None"]
EmailFilter = Callable[[str], "bool | Awaitable[bool]"]
CopyProtection = Literal["block", "attribute", "off"]
ProtectScope = Literal["article", "page"]


@runtime_checkable
class CrawlerResolver(Protocol):
    """Reverse and forward DNS for verifying search crawlers (``crawler_resolver``); each method sync or async.

    ``reverse`` names the host of an address (None, or an error, when it has
    none); ``forward`` gives the addresses a host name resolves to.
    """

    def reverse(self, address: str) -> str | Awaitable[str | None] | None: ...

    def forward(self, name: str) -> Iterable[str] | Awaitable[Iterable[str]]: ...


ENV_PREFIX = "PAYWALL_"

DEFAULT_CTA_TEMPLATE = (
    '<aside class="paywall-cta" data-paywall-cta aria-labelledby="paywall-cta-title">'
    '<p class="paywall-cta__title" id="paywall-cta-title">$title</p>'
    '<p class="paywall-cta__action"><a class="paywall-cta__button" href="$url">$action</a></p>'
    "</aside>"
)

#: The call to action with the trial form in it (``cta_inline_form``), when ``cta_template`` is the default.
DEFAULT_CTA_FORM_TEMPLATE = (
    '<aside class="paywall-cta" data-paywall-cta aria-labelledby="paywall-cta-title">'
    '<p class="paywall-cta__title" id="paywall-cta-title">$title</p>'
    "$form"
    "</aside>"
)

#: Placeholders a call-to-action template may use (``string.Template`` syntax).
CTA_PLACEHOLDERS = frozenset({"title", "action", "url", "form", "trial_days", "free_articles"})
#: Placeholders a ``trial_template`` may use.
TRIAL_PLACEHOLDERS = frozenset(
    {
        "title",  # "Start your 7-day free trial"
        "site_name",
        "trial_days",
        "action",  # URL the form posts to
        "next",  # where the reader goes afterwards (same-site path)
        "csrf_token",  # value of the hidden field named "csrf"
        "email",  # what the reader typed, on a second showing
        "error",  # the error message as text, or ""
        "error_html",  # the error as an accessible alert element, or ""
        "privacy_url",
        "terms_url",
        "subscribe_url",
        "form",  # the complete default form
    }
)

_CALLABLE_FIELDS = ("member_resolver", "email_sender", "email_filter")
#: Settings that hold an object (or its ``"module:attribute"``) that is not a callable.
_OBJECT_FIELDS = frozenset({"crawler_resolver"})
_SECRET_FIELDS = frozenset({"secret_key", "secret_key_fallbacks", "jwt_key", "admin_password"})
_MIN_SECRET_LENGTH = 16
_MIN_ADMIN_PASSWORD_LENGTH = 12


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaywallSettings:
    """Everything a publisher configures. See the README for each field's meaning."""

    # --- core -------------------------------------------------------------
    secret_key: str = dataclasses.field(repr=False)
    secret_key_fallbacks: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    trial_days: int = 7
    article_selector: str | tuple[str, ...] | None = None
    article_paths: tuple[str, ...] = ()
    teaser_paragraphs: int = 3
    member_resolver: MemberResolver | None = None
    member_resolver_timeout: float = 2.0
    prefix: str = "/_paywall"
    exclude_paths: tuple[str, ...] = ()
    max_body_bytes: int = 5 * 1024 * 1024
    gate_cache_bytes: int = 32 * 1024 * 1024
    store: str = "sqlite:///paywall.db"

    # --- call to action ---------------------------------------------------
    cta_template: str = DEFAULT_CTA_TEMPLATE
    cta_offer_title: str = "Need to access the insight?"
    cta_offer_action: str = "Start your ${trial_days}-day free trial now"
    cta_ended_title: str = "Your free trial has ended"
    cta_ended_action: str = "Become a member to keep reading"
    cta_metered_title: str = "You have read your ${free_articles} free articles this month"
    cta_metered_action: str = "Start your ${trial_days}-day free trial now"
    subscribe_url: str = "/subscribe"
    public_url: str | None = None
    cta_inline_form: bool = False
    cta_variants: tuple[str, ...] = ()

    # --- trials, cookies, members ----------------------------------------
    trial_cookie: str = "paywall_trial"
    device_cookie: str = "paywall_device"
    member_cookie: str = "paywall_member"
    variant_cookie: str = "paywall_variant"
    cookie_secure: bool | None = None
    cookie_domain: str | None = None
    privacy_url: str = "/privacy"
    terms_url: str = "/terms"
    site_name: str = ""
    trial_template: str | None = None
    email_confirmation: bool = False
    email_sender: EmailSender | None = None
    email_filter: EmailFilter | None = None
    plus_addressing_is_same_reader: bool = True
    dot_insensitive_domains: tuple[str, ...] = ("gmail.com", "googlemail.com")
    trial_ip_daily_cap: int = 3
    trial_network_daily_cap: int = 20
    max_form_bytes: int = 16 * 1024
    jwt_key: str | None = dataclasses.field(default=None, repr=False)
    jwt_jwks_file: str | None = None
    jwt_algorithms: tuple[str, ...] = ()
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_cookie: str = "paywall_jwt"
    jwt_member_claim: str | None = None
    jwt_member_values: tuple[str, ...] = ()

    # --- metering ---------------------------------------------------------
    free_articles: int = 0
    meter_ip_daily_cap: int = 0
    ip_prefix_v4: int = 32
    ip_prefix_v6: int = 64
    network_prefix_v4: int = 24
    network_prefix_v6: int = 48

    # --- copy protection --------------------------------------------------
    copy_protection: CopyProtection = "block"
    protect_message: str = "error: This content is protected !!"
    protect_scope: ProtectScope = "article"
    protect_paths: tuple[str, ...] = ()
    protect_exclude_paths: tuple[str, ...] = ()
    protect_members: bool = True
    attribution_min_words: int = 20
    trace_copies: bool = False

    # --- insights ---------------------------------------------------------
    insights: bool = True
    admin_password: str | None = dataclasses.field(default=None, repr=False)

    # --- search engines ---------------------------------------------------
    crawlers: tuple[str, ...] = ("googlebot", "bingbot")
    crawler_ranges_dir: str | None = None
    crawler_resolver: CrawlerResolver | str | None = None
    crawler_lookup_timeout: float = 2.0
    crawler_cache_ttl: int = 3600
    gated_class: str = "paywall-gated"
    noarchive: bool = True
    # --- feeds and JSON APIs ---------------------------------------------
    json_body_fields: tuple[str, ...] = ()
    json_paths: tuple[str, ...] = ()

    # --- reverse proxy ----------------------------------------------------
    upstream: str | None = None
    upstream_timeout: float = 30.0
    upstream_connect_timeout: float = 5.0
    upstream_max_connections: int = 100
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, list):  # TOML arrays arrive as lists
                object.__setattr__(self, field.name, tuple(value))
        _validate(self)

    # ------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, source: str = "settings") -> PaywallSettings:
        """Build settings from loosely typed values (TOML, environment, flags).

        Strings are coerced to each field's type; unknown names are an error,
        because a misspelt setting silently ignored is a setting not applied.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise ConfigError(name, f"unknown setting (from {source})")
            kwargs[name] = coerce(name, raw)
        if "secret_key" not in kwargs:
            raise ConfigError("secret_key", "is required")
        return cls(**kwargs)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> PaywallSettings:
        """Read every field from ``PAYWALL_<FIELD>`` variables; ``overrides`` win."""
        return cls.from_mapping({**env_values(environ), **overrides}, source="environment")

    def replace(self, **changes: Any) -> PaywallSettings:
        return dataclasses.replace(self, **changes)

    def masked(self) -> dict[str, Any]:
        """The effective settings with secrets hidden, for ``paywall check-config``."""
        out: dict[str, Any] = {}
        for name in self.field_names():
            value = getattr(self, name)
            if name in _SECRET_FIELDS and value:
                value = ["****"] * len(value) if isinstance(value, tuple) else "****"
            elif callable(value) or name in _OBJECT_FIELDS:
                value = _object_name(value) if value is not None else None
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out

    @property
    def all_secret_keys(self) -> tuple[str, ...]:
        """Current key first, then the fallbacks that still verify."""
        return (self.secret_key, *self.secret_key_fallbacks)

    def trial_path(self) -> str:
        return f"{self.prefix}/trial"


def _object_name(value: Any) -> str:
    """``module:name`` of a callable or other object given as a setting (a resolver object: its class)."""
    if isinstance(value, str):
        return value
    if isinstance(value, types.ModuleType):
        return value.__name__
    if hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}:{value.__qualname__}"
    kind = type(value)
    return f"{kind.__module__}:{kind.__qualname__} instance"


def env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``PAYWALL_*`` variables that name a field, keyed by field name."""
    environ = os.environ if environ is None else environ
    names = set(PaywallSettings.field_names())
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in names:
                out[name] = value
    return out


# ---------------------------------------------------------------------------
# coercion


def _field_type(name: str) -> Any:
    hints = typing.get_type_hints(PaywallSettings)
    return hints[name]


def coerce(name: str, raw: Any) -> Any:
    """Turn a textual or TOML value into the type ``name`` declares."""
    if not isinstance(raw, str):
        return raw
    hint = _field_type(name)
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    optional = origin in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        if raw.strip() == "" or raw.strip().lower() in {"none", "null"}:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if hint is bool:
        return _parse_bool(name, raw)
    if hint is int:
        try:
            return int(raw.strip().replace("_", ""))
        except ValueError:
            raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if hint is float:
        try:
            return float(raw.strip())
        except ValueError:
            raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if origin is tuple:
        text = raw.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                raise ConfigError(name, "expected a JSON list or comma-separated values") from None
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ConfigError(name, "expected a list of strings")
            return tuple(items)
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return raw


def _parse_bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")


def _imported(s: PaywallSettings, name: str) -> Any:
    """Field ``name`` with a ``"module:attribute"`` string replaced by the object it names ("" by None)."""
    value = getattr(s, name)
    if isinstance(value, str):
        value = import_object(name, value) if value else None
        object.__setattr__(s, name, value)
    return value


def import_object(name: str, path: str) -> Any:
    """Resolve ``"package.module:attribute"`` (how a TOML file names a callable)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(name, f"expected 'module:attribute', got {path!r}")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(name, f"cannot import {path!r}: {exc}") from None
    return obj


# ---------------------------------------------------------------------------
# validation


def _validate(s: PaywallSettings) -> None:
    _check_types(s)
    problem = weak_secret(s.secret_key)
    if problem:
        raise ConfigError("secret_key", problem)
    for key in s.secret_key_fallbacks:
        problem = weak_secret(key)
        if problem:
            raise ConfigError("secret_key_fallbacks", f"a key {problem}")
    _range(s, "trial_days", 1, 3650)
    _range(s, "teaser_paragraphs", 1, 100)
    _range(s, "max_body_bytes", 1024, 1024**3)
    _range(s, "gate_cache_bytes", 0, 16 * 1024**3)
    _range(s, "max_form_bytes", 256, 1024**2)
    _range(s, "free_articles", 0, 1000)
    _range(s, "meter_ip_daily_cap", 0, 10**6)
    _range(s, "trial_ip_daily_cap", 0, 10**6)
    _range(s, "trial_network_daily_cap", 0, 10**6)
    _range(s, "ip_prefix_v4", 8, 32)
    _range(s, "ip_prefix_v6", 16, 128)
    _range(s, "network_prefix_v4", 8, s.ip_prefix_v4)
    _range(s, "network_prefix_v6", 16, s.ip_prefix_v6)
    if not 0 < s.member_resolver_timeout <= 60:
        raise ConfigError("member_resolver_timeout", "must be a number of seconds between 0 and 60")
    for domain in s.dot_insensitive_domains:
        if not _DOMAIN_RE.fullmatch(domain):
            raise ConfigError("dot_insensitive_domains", f"not a lower-case domain name: {domain!r}")
    _range(s, "attribution_min_words", 1, 10_000)
    _range(s, "upstream_max_connections", 1, 100_000)
    for name in ("upstream_timeout", "upstream_connect_timeout"):
        if not 0 < getattr(s, name) <= 3600:
            raise ConfigError(name, "must be a number of seconds between 0 and 3600")

    if not s.prefix.startswith("/") or s.prefix.endswith("/") or len(s.prefix) < 2:
        raise ConfigError("prefix", "must start with '/' and not end with '/', like '/_paywall'")
    if any(c in s.prefix for c in "?#* "):
        raise ConfigError("prefix", "must be a plain path")
    for name in ("exclude_paths", "protect_paths", "protect_exclude_paths"):
        for pattern in getattr(s, name):
            if not pattern.startswith("/"):
                raise ConfigError(name, f"path patterns start with '/': {pattern!r}")

    for _pattern, selector in selector_rules(s.article_selector):
        _check_selector(selector)
    for pattern in s.article_paths:
        if not pattern.startswith("/"):
            raise ConfigError("article_paths", f"a path pattern starts with '/', got {pattern!r}")

    _check_template("cta_template", s.cta_template, CTA_PLACEHOLDERS)
    for name in (
        "cta_offer_title",
        "cta_offer_action",
        "cta_ended_title",
        "cta_ended_action",
        "cta_metered_title",
        "cta_metered_action",
    ):
        _check_template(name, getattr(s, name), TEXT_PLACEHOLDERS)

    if s.cta_inline_form and s.cta_template != DEFAULT_CTA_TEMPLATE and not _uses(s.cta_template, "form"):
        raise ConfigError("cta_template", "must place the trial form with $form when cta_inline_form is on")
    if s.cta_variants:
        parse_variants(s.cta_variants)  # checks every entry now: a bad one stops start-up
    if s.admin_password is not None and len(s.admin_password) < _MIN_ADMIN_PASSWORD_LENGTH:
        raise ConfigError("admin_password", f"must be at least {_MIN_ADMIN_PASSWORD_LENGTH} characters")

    if s.trial_template is not None:
        _check_template("trial_template", s.trial_template, TRIAL_PLACEHOLDERS)
        if not any(_uses(s.trial_template, p) for p in ("form", "csrf_token")):
            raise ConfigError("trial_template", "must contain $form, or a form of its own with $csrf_token")

    for name in ("trial_cookie", "device_cookie", "member_cookie", "variant_cookie", "jwt_cookie"):
        value = getattr(s, name)
        if not value or any(c in value for c in ' ;,="\t\r\n'):
            raise ConfigError(name, "must be a non-empty cookie name without spaces, ';', ',' or '='")

    for name in _CALLABLE_FIELDS:
        value = _imported(s, name)
        if value is not None and not callable(value):
            raise ConfigError(name, "must be a callable or 'module:attribute'")
    if s.email_confirmation and s.email_sender is None:
        raise ConfigError("email_confirmation", "needs email_sender, the hook that sends the confirmation")
    if s.email_confirmation and s.public_url is None:
        # Links in e-mails must not be built from the Host header a client sent.
        raise ConfigError("email_confirmation", "needs public_url, the site's origin for the link in the e-mail")

    if s.trace_copies and s.copy_protection != "attribute":
        raise ConfigError("trace_copies", "works with copy_protection = 'attribute' only")

    _check_jwt(s)
    _check_formats(s)
    # The JWT key itself (a PEM text, a file, a JWKS file) is read when the paywall starts
    # (paywall.http.runtime): settings hold data and read no file.
    if (s.jwt_key is not None or s.jwt_jwks_file is not None) and not s.jwt_audience:
        # Without an audience, any token the key ever signed (for a forum, a free
        # plan, another app) would count as a member.
        raise ConfigError("jwt_audience", "is required with jwt_key or jwt_jwks_file: the 'aud' your tokens carry")

    if s.public_url is not None and (
        not s.public_url.startswith(("http://", "https://")) or s.public_url.rstrip("/").count("/") > 2
    ):
        raise ConfigError("public_url", "must be the site's origin, like https://news.example")
    if s.upstream is not None and not s.upstream.startswith(("http://", "https://")):
        raise ConfigError("upstream", "must be an http:// or https:// URL")
    for entry in s.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError("trusted_proxies", f"not an IP address or network: {entry!r}") from None

    if not s.store.startswith(("sqlite://", "redis://", "rediss://", "unix://")):
        raise ConfigError("store", "must be sqlite:///path/to/file.db or redis://host:port/db")
    _check_search_engines(s)


#: Least entropy a key must show, estimated from its length and alphabet.
_MIN_SECRET_BITS = 64
#: Least variety: Shannon's estimate from the key's own character frequencies.
_MIN_SECRET_SPREAD_BITS = 32
_CHARACTER_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
_DOMAIN_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def weak_secret(key: str) -> str | None:
    """Why ``key`` cannot sign readers' tokens, or None when it looks random enough.

    Length alone proves nothing (``"a" * 24`` is long). A key must be at least
    16 characters; no character may make up more than a third of it, nor may
    it repeat a shorter pattern; its length times the bits of its alphabet
    (lower case, upper case, digits, others) must reach 64 bits, and the
    spread of its own characters 32 bits. A ``secrets.token_urlsafe(32)`` key
    passes; a short random key is refused now and then when it happens to look
    patterned (a character in a third of it), and another one does.
    """
    hint = 'generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
    if len(key) < _MIN_SECRET_LENGTH:
        return f"must be at least {_MIN_SECRET_LENGTH} characters of random text; {hint}"
    counts = collections.Counter(key)
    if max(counts.values()) * 3 > len(key) or (key + key).find(key, 1) < len(key):
        return f"is not random: it repeats a character or a pattern; {hint}"
    alphabet = sum(len(chars) for chars in _CHARACTER_CLASSES if any(c in chars for c in key))
    if any(not any(c in chars for chars in _CHARACTER_CLASSES) for c in key):
        alphabet += 32  # punctuation and the rest
    bits = len(key) * math.log2(alphabet)
    spread = -sum(n * math.log2(n / len(key)) for n in counts.values())
    if bits < _MIN_SECRET_BITS or spread < _MIN_SECRET_SPREAD_BITS:
        return f"is too predictable (too few different characters for its length); {hint}"
    return None


def _check_types(s: PaywallSettings) -> None:
    hints = typing.get_type_hints(PaywallSettings)
    for field in dataclasses.fields(s):
        value = getattr(s, field.name)
        hint = hints[field.name]
        if field.name in _CALLABLE_FIELDS or field.name in _OBJECT_FIELDS:
            continue
        if not _matches(value, hint):
            if typing.get_origin(hint) is Literal:
                choices = ", ".join(repr(c) for c in typing.get_args(hint))
                raise ConfigError(field.name, f"must be one of {choices}, got {value!r}")
            raise ConfigError(field.name, f"has the wrong type ({type(value).__name__})")


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is Literal:
        return value in args
    if origin is tuple:
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _range(s: PaywallSettings, name: str, low: int, high: int) -> None:
    value = getattr(s, name)
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}, got {value}")


def _check_selector(selector: str) -> None:
    from selectolax.lexbor import LexborHTMLParser

    try:
        LexborHTMLParser("<p></p>").css(selector)
    except Exception as exc:  # the selector engine raises its own error type
        raise ConfigError("article_selector", f"not a valid CSS selector: {selector!r} ({exc})") from None


def selectors_for(rules: list[tuple[str | None, str]], path: str) -> list[str]:
    """The selectors of ``rules`` (from :func:`selector_rules`) that apply to ``path``, in order.

    The path is judged with ``.`` and ``..`` resolved, as every path rule is.
    """
    from .paths import match_path, normalize_path

    normal = normalize_path(path)
    return [selector for pattern, selector in rules if pattern is None or match_path(normal, [pattern])]


def selector_rules(value: str | tuple[str, ...] | list[str] | None) -> list[tuple[str | None, str]]:
    """``article_selector`` as (path pattern or None for every page, selector) pairs, in order.

    One string is one selector for every page. In a list, an entry that starts
    with ``/`` is a path pattern (as in ``exclude_paths``), white space, then the
    selector for the pages it matches (``"/news/* article.story"``); any other
    entry is a selector for every page.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [(None, value.strip())] if value.strip() else []
    rules: list[tuple[str | None, str]] = []
    for entry in value:
        text = entry.strip()
        if text.startswith("/"):
            pattern, _, selector = text.partition(" ")
            if not selector.strip():
                raise ConfigError("article_selector", f"{entry!r} names a path pattern but no selector")
            rules.append((pattern, selector.strip()))
        elif text:
            rules.append((None, text))
    return rules


def _check_template(name: str, text: str, allowed: frozenset[str]) -> None:
    template = string.Template(text)
    if not template.is_valid():
        raise ConfigError(name, "has a '$' that is not a placeholder (write '$$' for a dollar sign)")
    unknown = set(template.get_identifiers()) - allowed
    if unknown:
        raise ConfigError(name, f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    if name == "cta_template" and not _uses(text, "url"):
        raise ConfigError(name, "must link to the trial page with $url")


def _uses(template: str, placeholder: str) -> bool:
    return f"${placeholder}" in template or f"${{{placeholder}}}" in template


_JSON_FIELD = re.compile(r"[^\s\"\\]{1,128}")


def _check_formats(s: PaywallSettings) -> None:
    for name in s.json_body_fields:
        if not _JSON_FIELD.fullmatch(name):
            raise ConfigError("json_body_fields", f"a JSON key without spaces, quotes or backslashes, got {name!r}")
    for pattern in s.json_paths:
        if not pattern.startswith(("/", "*")):
            raise ConfigError("json_paths", f"a path pattern starts with '/' (or '*'), got {pattern!r}")


_JWT_ALGORITHMS = frozenset({"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})


_CSS_CLASS = re.compile(r"-?[_a-zA-Z][_a-zA-Z0-9-]{0,63}")


def _check_search_engines(s: PaywallSettings) -> None:
    """The crawler list, its ranges, resolver and timings, and the gated part's class."""
    parse_crawlers(s.crawlers)  # the ranges files are read when the paywall starts (paywall.http.runtime)
    resolver = _imported(s, "crawler_resolver")
    if resolver is not None and (
        isinstance(resolver, type)
        or not (isinstance(resolver, CrawlerResolver) and callable(resolver.reverse) and callable(resolver.forward))
    ):
        raise ConfigError("crawler_resolver", "must be an object with reverse(address) and forward(name) methods")
    if not 0 < s.crawler_lookup_timeout <= 30:
        raise ConfigError("crawler_lookup_timeout", "must be a number of seconds between 0 and 30")
    _range(s, "crawler_cache_ttl", 1, 7 * 86400)
    if not _CSS_CLASS.fullmatch(s.gated_class):
        raise ConfigError("gated_class", f"must be a CSS class name like 'paywall-gated', got {s.gated_class!r}")


def _check_jwt(s: PaywallSettings) -> None:
    if (s.jwt_member_claim is None) != (not s.jwt_member_values):
        raise ConfigError("jwt_member_values", "give jwt_member_claim and jwt_member_values together")
    if s.jwt_member_claim is not None and not s.jwt_member_claim.strip():
        raise ConfigError("jwt_member_claim", "must name a claim, like 'plan'")
    unknown = set(s.jwt_algorithms) - _JWT_ALGORITHMS
    if unknown:
        raise ConfigError("jwt_algorithms", f"unsupported: {sorted(unknown)} ('none' is never accepted)")
    symmetric = {a for a in s.jwt_algorithms if a.startswith("HS")}
    if symmetric and len(symmetric) != len(s.jwt_algorithms):
        raise ConfigError("jwt_algorithms", "mixing HS* with RS*/ES* invites algorithm confusion; pick one family")
    if s.jwt_jwks_file is not None and s.jwt_key is not None:
        raise ConfigError("jwt_jwks_file", "give either jwt_key or jwt_jwks_file, not both")
    if s.jwt_key is not None and not s.jwt_key.strip():
        raise ConfigError("jwt_key", "is empty: give an HMAC secret, a PEM public key or the path of one")
    if s.jwt_jwks_file is not None and not s.jwt_jwks_file.strip():
        raise ConfigError("jwt_jwks_file", "is empty: give the path of a JWKS file")
