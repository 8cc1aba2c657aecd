"""Serving code shared by ``paywall demo`` and ``paywall proxy``.

Both commands build the same thing, a site wrapped in
:class:`~paywall.http.middleware.PaywallMiddleware`, and run it with uvicorn; they
differ only in the site (the example news site, or :class:`~paywall.http.proxy.ProxyApp`
forwarding to an upstream).

With several workers uvicorn starts fresh processes that import an app by
name, so the recipe (mode, settings file, flag values, and the demo's
per-run secret when one was generated) travels in the ``PAYWALL_SERVE_SPEC``
environment variable, readable only by the server's own user, and each
worker rebuilds exactly the settings the command line validated, through
the same :func:`settings_for` and the same environment.

uvicorn's own ``X-Forwarded-*`` handling is switched off: the paywall decides
which proxies to believe from ``trusted_proxies``, in one place.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..config import ServerOptions, collect_values, settings_from_values
from ..errors import ConfigError
from ..settings import PaywallSettings

Mode = Literal["demo", "proxy"]
SPEC_ENV = "PAYWALL_SERVE_SPEC"
#: Where the example news site lives in a checkout: next to the package directory.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
_DEMO_MODULE = "paywall_demo_site"


@dataclasses.dataclass(frozen=True)
class ServeSpec:
    """Everything a worker process needs to rebuild the app the command line checked."""

    mode: Mode
    config_path: str | None
    overrides: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps({"mode": self.mode, "config_path": self.config_path, "overrides": dict(self.overrides)})

    @classmethod
    def from_json(cls, text: str) -> ServeSpec:
        data = json.loads(text)
        if data.get("mode") not in ("demo", "proxy"):
            raise ConfigError(SPEC_ENV, "names no serving mode")
        return cls(mode=data["mode"], config_path=data.get("config_path"), overrides=data.get("overrides") or {})


# ---------------------------------------------------------------------------
# building the app


@dataclasses.dataclass(frozen=True)
class DemoSite:
    """The example news site and the settings it brings (under every other source)."""

    app: Any
    defaults: Mapping[str, Any]


def load_demo_site(examples_dir: Path = EXAMPLES_DIR) -> DemoSite:
    """Import the example news site from ``examples/news_site/app.py`` by file path.

    The examples are not part of the installed package, so they are found next
    to it in a source checkout. The site's ``app`` is taken unwrapped, so that the
    settings of the command line are the ones in force; its member check
    (``demo_member_resolver``) and name become defaults that any configured value
    overrides.
    """
    site_dir = examples_dir / "news_site"
    app_file = site_dir / "app.py"
    if not app_file.is_file():
        raise ConfigError(
            "demo", f"the example site is not there ({app_file}); run the demo from a source checkout of paywall"
        )
    module = _import_site(site_dir, app_file)
    site = getattr(module, "app", None)
    if site is None:
        raise ConfigError("demo", f"{app_file} defines no 'app'")
    from .middleware import PaywallMiddleware

    while isinstance(site, PaywallMiddleware):
        site = site.app
    defaults: dict[str, Any] = {}
    resolver = getattr(module, "demo_member_resolver", None)
    if callable(resolver):
        defaults["member_resolver"] = resolver
    name = getattr(module, "SITE_NAME", None)
    if isinstance(name, str):
        defaults["site_name"] = name
    return DemoSite(site, defaults)


def _import_site(site_dir: Path, app_file: Path) -> Any:
    name = f"{_DEMO_MODULE}.app"
    if name in sys.modules:
        return sys.modules[name]
    init = site_dir / "__init__.py"
    if init.is_file():
        # A package: its relative imports must resolve, so import it as one.
        package = importlib.util.spec_from_file_location(_DEMO_MODULE, init, submodule_search_locations=[str(site_dir)])
        if package is None or package.loader is None:
            raise ConfigError("demo", f"cannot import {init}")
        sys.modules[_DEMO_MODULE] = importlib.util.module_from_spec(package)
        package.loader.exec_module(sys.modules[_DEMO_MODULE])
        if name in sys.modules:
            return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, app_file)
    if spec is None or spec.loader is None:
        raise ConfigError("demo", f"cannot import {app_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def settings_for(spec: ServeSpec, env: Mapping[str, str]) -> PaywallSettings:
    """The settings ``spec`` names: file < environment < flags (the demo site's defaults below all)."""
    defaults = load_demo_site().defaults if spec.mode == "demo" else {}
    return settings_from_values(collect_values(spec.config_path, env, spec.overrides, defaults=defaults))


def require_upstream(settings: PaywallSettings) -> str:
    """The site proxy mode serves; a clear error when none is configured."""
    if not settings.upstream:
        raise ConfigError("upstream", 'is required: give --upstream URL or upstream = "..." in the settings file')
    return settings.upstream


def build_app(mode: Mode, settings: PaywallSettings) -> Any:
    """The site of ``mode`` behind the paywall, ready for any ASGI server."""
    from .middleware import PaywallMiddleware

    if mode == "proxy":
        from .proxy import ProxyApp

        site: Any = ProxyApp(require_upstream(settings), settings)
    else:
        site = load_demo_site().app
    return PaywallMiddleware(site, settings=settings)


def create_app() -> Any:
    """Factory run by every worker process (``paywall.http.server:create_app``)."""
    text = os.environ.get(SPEC_ENV)
    if not text:
        raise ConfigError(SPEC_ENV, "is not set; start workers with 'paywall proxy' or 'paywall demo'")
    spec = ServeSpec.from_json(text)
    return build_app(spec.mode, settings_for(spec, os.environ))


# ---------------------------------------------------------------------------
# running


def uvicorn_options(mode: Mode, options: ServerOptions) -> dict[str, Any]:
    return {
        "host": options.host,
        "port": options.port,
        "log_level": options.log_level,
        "http": options.http,
        "loop": options.loop,
        "proxy_headers": False,  # X-Forwarded-For is judged against trusted_proxies, not by uvicorn
        # A proxy passes on the upstream's own Date and Server headers; adding
        # uvicorn's would send each twice.
        "server_header": mode != "proxy",
        "date_header": mode != "proxy",
    }


def serve(spec: ServeSpec, settings: PaywallSettings, options: ServerOptions) -> None:
    """Run uvicorn until interrupted. ``settings`` must be the ones ``spec`` rebuilds."""
    import uvicorn

    kwargs = uvicorn_options(spec.mode, options)
    app = build_app(spec.mode, settings)  # any problem shows here, once, before workers start
    if options.workers > 1:
        os.environ[SPEC_ENV] = spec.to_json()
        uvicorn.run("paywall.http.server:create_app", factory=True, workers=options.workers, **kwargs)
    else:
        uvicorn.run(app, **kwargs)
