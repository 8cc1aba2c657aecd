"""The runtime: settings are plain data, and what is built from them is built once."""

from __future__ import annotations

import gc
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import itsdangerous
import jwt
import pytest

from paywall import PaywallMiddleware, PaywallSettings, issue_member_token
from paywall.access.members import JWTVerifier
from paywall.access.tokens import DEVICE, MEMBER, TRIAL, VARIANT, Tokens, sign, verify
from tests.apps.gate_app import SECRET_WORDS, site
from tests.asgi import call

Make = Callable[..., PaywallSettings]
JWT_SECRET = "jwt-shared-secret-0123456789-abcdefghij"
NOW = 1_800_000_000.0

pytestmark = pytest.mark.anyio


def test_settings_read_no_file(make_settings: Make, tmp_path: Path) -> None:
    # A key file that is not there yet is a start-up problem, not a settings one.
    settings = make_settings(jwt_audience="news", jwt_jwks_file=str(tmp_path / "jwks.json"))
    assert settings.jwt_jwks_file == str(tmp_path / "jwks.json")
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    PaywallMiddleware(site, settings=settings)  # there now: the paywall starts


# ---------------------------------------------------------------------------
# built once


@pytest.fixture
def constructions(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many serializers, signers and JWT verifiers are made (the real ones, counted)."""
    counts = {"serializer": 0, "signer": 0, "jwt": 0}

    def counting(cls: type, key: str) -> None:
        real = cls.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            counts[key] += 1
            real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", init)

    counting(itsdangerous.Serializer, "serializer")
    counting(itsdangerous.Signer, "signer")
    counting(JWTVerifier, "jwt")
    return counts


async def test_the_request_path_builds_no_serializer_signer_or_verifier(
    make_settings: Make, constructions: dict[str, int]
) -> None:
    settings = make_settings(
        jwt_audience="news", jwt_key=JWT_SECRET, free_articles=3, cta_variants=("control 1", "bold 1")
    )
    app = PaywallMiddleware(site, settings=settings)
    assert constructions["serializer"] > 0 and constructions["jwt"] == 1  # made at start-up
    constructions.update(serializer=0, signer=0, jwt=0)

    member = issue_member_token(settings, "reader-7", 30)
    bearer = jwt.encode({"sub": "reader-8", "aud": "news", "exp": time.time() + 600}, JWT_SECRET, algorithm="HS256")
    trial = await app.store.start_trial(
        trial_id="t-1", email="ann@example.com", device_id="d" * 22, started_at=time.time(), ends_at=time.time() + 600
    )
    assert trial.trial is not None
    trial_token = app.runtime.credentials.tokens.sign(TRIAL, {"t": "t-1", "e": trial.trial.ends_at})
    device = app.runtime.credentials.tokens.sign(DEVICE, {"d": "d" * 22})
    constructions.update(serializer=0, signer=0, jwt=0)  # issue_member_token made its own, once

    readers = [
        [(b"cookie", f"paywall_member={member}".encode())],
        [(b"authorization", f"Bearer {bearer}".encode())],
        [(b"cookie", f"paywall_trial={trial_token}; paywall_device={device}".encode())],
        [(b"cookie", f"paywall_device={device}; paywall_variant=forged".encode())],
        [],
    ]
    for headers in readers * 2:
        result = await call(app, "/article", headers=headers)
        assert result.status == 200
    assert constructions == {"serializer": 0, "signer": 0, "jwt": 0}
    # The member, the JWT and the trial read in full: the runtime's tokens are the settings' keys.
    for headers in readers[:3]:
        body = (await call(app, "/article", headers=headers)).body.decode()
        assert all(word in body for word in SECRET_WORDS), headers
    await app.runtime.aclose()


# ---------------------------------------------------------------------------
# tokens already out there


class _FrozenSigner(itsdangerous.TimestampSigner):
    def get_timestamp(self) -> int:
        return math.floor(NOW)


@pytest.mark.parametrize("purpose", [TRIAL, DEVICE, MEMBER, VARIANT])
@pytest.mark.parametrize(
    "payload",
    [
        {"t": "trial-1", "e": NOW + 60, "d": "kQ2vX9_aT4mZ0pL7wRc8eB", "s": "reader", "v": "bold"},
        {"x": ["café", "naïve", 1.5, None, True]},  # not ASCII: written as itself, as itsdangerous writes it
        {"long": "ab" * 1000},  # long and repetitive: compressed, as itsdangerous compresses it
    ],
)
def test_tokens_are_what_itsdangerous_makes(make_settings: Make, purpose: str, payload: dict[str, Any]) -> None:
    """Cookies signed before the serializers were built once still verify, and new ones are the same bytes,
    but for a short payload that itsdangerous would compress: that one is written plainly (trying zlib
    sets up about 256 KB of state per token, for a few bytes at most). Each reads the other's tokens."""
    settings = make_settings(secret_key_fallbacks=("an-older-key-0123456789abcdef",))
    plain = itsdangerous.URLSafeTimedSerializer(
        list(reversed(settings.all_secret_keys)),
        salt=purpose,
        signer=_FrozenSigner,
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    ours, theirs = sign(settings, purpose, payload, now=NOW), plain.dumps(payload)
    if "long" in payload:
        assert ours == theirs and ours.startswith(".")
    else:
        assert not ours.startswith(".") and (ours == theirs or theirs.startswith("."))
    assert plain.loads(ours) == payload
    assert verify(settings, purpose, theirs, now=NOW + 1) == payload
    # Signed with the fallback key (before a rotation): verified, never used to sign.
    older = itsdangerous.URLSafeTimedSerializer(
        "an-older-key-0123456789abcdef",
        salt=purpose,
        signer=_FrozenSigner,
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    assert verify(Tokens(settings.all_secret_keys), purpose, older.dumps(payload), now=NOW + 1) == payload
    assert sign(settings, purpose, payload, now=NOW) != older.dumps(payload)


def test_issue_member_token_keeps_its_signature_and_works_without_a_runtime(make_settings: Make) -> None:
    settings = make_settings()
    token = issue_member_token(settings, "reader-1", 1, now=NOW)
    assert verify(settings, MEMBER, token, now=NOW + 10) == {"s": "reader-1", "e": NOW + 86400}
    assert Tokens.of(settings) is Tokens.of(make_settings())  # one per list of keys, not per call


# ---------------------------------------------------------------------------
# what a request leaves behind


async def test_a_request_leaves_nothing_for_the_cycle_collector(make_settings: Make) -> None:
    """Every object of a request is freed when it ends: no cycle waits for the garbage collector."""
    app = PaywallMiddleware(site, settings=make_settings())
    paths = ("/article", "/image.png", "/", "/free-header", "/article")
    for path in paths:  # warm: caches filled, modules' lazy state made
        await call(app, path)
    gc.collect()
    gc.disable()
    try:
        for path in paths:
            await call(app, path)
            await call(app, path, headers=[(b"cookie", b"theme=dark"), (b"if-none-match", b'"x"')])
        assert gc.collect() == 0
    finally:
        gc.enable()
    await app.runtime.aclose()


async def test_the_reader_asked_for_after_the_request_is_no_member(make_settings: Make) -> None:
    """An app that keeps ``request.state.paywall`` past its request gets a non-member: nothing is left to ask."""
    kept: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        kept.append(scope["state"]["paywall"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    resolver_calls: list[str] = []

    async def member(request: Any) -> bool:
        resolver_calls.append(request.url.path)
        return True

    paywall = PaywallMiddleware(app, settings=make_settings(member_resolver=member))
    assert (await call(paywall, "/notes.txt")).body == b"ok"
    gc.collect()
    reader = await kept[0].reader()
    assert reader.level == "anonymous" and resolver_calls == []
    await paywall.runtime.aclose()
