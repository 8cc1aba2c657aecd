"""Members without Python code: the signed member cookie and JWTs from an identity provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from paywall import ConfigError, PaywallSettings, issue_member_token
from paywall.access.credentials import credentials_for
from paywall.access.members import JWTVerifier, algorithms_for_key, bearer_token, load_member_token
from paywall.access.tokens import DEVICE, ExpiredToken, InvalidToken, sign

NOW = 1_800_000_000.0
HS_SECRET = "an-hmac-secret-that-is-long-enough-0123456789"
AUD = "news.example"
ISS = "https://id.example"

Make = Callable[..., PaywallSettings]


# ---------------------------------------------------------------------------
# keys


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "reader-42", "exp": NOW + 3600, "iat": NOW - 10, "aud": AUD, "iss": ISS}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand, as an attacker would (PyJWT refuses to make the dangerous ones)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


# ---------------------------------------------------------------------------
# member cookie


def test_member_token_round_trip_and_expiry(make_settings: Make) -> None:
    settings = make_settings()
    token = issue_member_token(settings, "subscriber-7", 30, now=NOW)
    assert load_member_token(settings, token, now=NOW + 29 * 86400) == "subscriber-7"
    with pytest.raises(ExpiredToken):
        load_member_token(settings, token, now=NOW + 30 * 86400)


def test_member_token_forged_truncated_foreign_and_wrong_salt(make_settings: Make) -> None:
    settings = make_settings()
    token = issue_member_token(settings, "subscriber-7", 30, now=NOW)
    foreign = issue_member_token(make_settings(secret_key="another-key-0123456789abcdef"), "x", 30, now=NOW)
    wrong_salt = sign(settings, DEVICE, {"s": "subscriber-7", "e": NOW + 86400}, now=NOW)
    for bad in (token[:-4], token + "A", foreign, wrong_salt, "", "not.a.token"):
        with pytest.raises(InvalidToken):
            load_member_token(settings, bad, now=NOW)


@pytest.mark.parametrize(("subject", "days"), [("", 5), ("x" * 300, 5), ("ok", 0), ("ok", 4000), ("ok", True)])
def test_issue_member_token_refuses_bad_arguments(make_settings: Make, subject: str, days: Any) -> None:
    with pytest.raises(ValueError):
        issue_member_token(make_settings(), subject, days)


def test_member_token_survives_key_rotation(make_settings: Make) -> None:
    old = make_settings(secret_key="old-key-0123456789abcdef")
    token = issue_member_token(old, "subscriber-7", 30, now=NOW)
    rotated = make_settings(secret_key="new-key-0123456789abcdef", secret_key_fallbacks=("old-key-0123456789abcdef",))
    assert load_member_token(rotated, token, now=NOW) == "subscriber-7"
    with pytest.raises(InvalidToken):
        load_member_token(make_settings(secret_key="new-key-0123456789abcdef"), token, now=NOW)


# ---------------------------------------------------------------------------
# JWT: good tokens


def test_hs256(make_settings: Make) -> None:
    verifier = JWTVerifier(make_settings(jwt_key=HS_SECRET, jwt_audience=AUD, jwt_issuer=ISS))
    token = jwt.encode(claims(), HS_SECRET, algorithm="HS256")
    assert verifier.subject(token, now=NOW) == "reader-42"


def test_rs256_with_pem_text_and_pem_file(make_settings: Make, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    from_text = JWTVerifier(make_settings(jwt_key=public_pem(rsa_key), jwt_audience=AUD))
    assert from_text.subject(token, now=NOW) == "reader-42"
    pem_file = tmp_path / "idp.pem"
    pem_file.write_text(public_pem(rsa_key))
    from_file = JWTVerifier(make_settings(jwt_key=str(pem_file), jwt_audience=AUD, jwt_issuer=ISS))
    assert from_file.subject(token, now=NOW) == "reader-42"


def test_es256(make_settings: Make, ec_key: ec.EllipticCurvePrivateKey) -> None:
    verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=public_pem(ec_key)))
    token = jwt.encode(claims(), ec_key, algorithm="ES256")
    assert verifier.subject(token, now=NOW) == "reader-42"


# ---------------------------------------------------------------------------
# JWT: bad tokens


def test_expired_and_not_yet_valid(make_settings: Make) -> None:
    verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=HS_SECRET))
    token = jwt.encode(claims(exp=NOW + 60), HS_SECRET, algorithm="HS256")
    assert verifier.subject(token, now=NOW + 60) == "reader-42"  # within the leeway
    with pytest.raises(ExpiredToken):
        verifier.subject(token, now=NOW + 3600)
    future = jwt.encode(claims(nbf=NOW + 3600), HS_SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verifier.subject(future, now=NOW)
    issued_later = jwt.encode(claims(iat=NOW + 3600), HS_SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verifier.subject(issued_later, now=NOW)


@pytest.mark.parametrize(
    "bad",
    [
        claims(exp=None),  # exp is required
        claims(exp="tomorrow"),
        claims(aud="other.example"),
        claims(aud=None),
        claims(iss="https://evil.example"),
        claims(iss=None),
        claims(sub=None),
        claims(sub=""),
    ],
)
def test_claims_are_checked(make_settings: Make, bad: dict[str, Any]) -> None:
    verifier = JWTVerifier(make_settings(jwt_key=HS_SECRET, jwt_audience=AUD, jwt_issuer=ISS))
    token = jwt.encode(bad, HS_SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verifier.subject(token, now=NOW)


def test_wrong_secret_and_garbage(make_settings: Make) -> None:
    verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=HS_SECRET))
    token = jwt.encode(claims(), "a-different-secret-that-is-long-enough-000", algorithm="HS256")
    for bad in (token, token[:-5], "abc", "a.b.c", "", "x" * 9000):
        with pytest.raises(InvalidToken):
            verifier.subject(bad, now=NOW)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(make_settings: Make, rsa_key: rsa.RSAPrivateKey, alg: str) -> None:
    unsigned = hand_made({"alg": alg, "typ": "JWT"}, claims(), None)
    for key in (HS_SECRET, public_pem(rsa_key)):
        verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=key))
        with pytest.raises(InvalidToken):
            verifier.subject(unsigned, now=NOW)
        with pytest.raises(InvalidToken):
            verifier.subject(unsigned.rstrip("."), now=NOW)


def test_algorithm_confusion_is_refused(make_settings: Make, rsa_key: rsa.RSAPrivateKey) -> None:
    pem = public_pem(rsa_key)
    verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=pem))
    assert verifier.subject(jwt.encode(claims(), rsa_key, algorithm="RS256"), now=NOW) == "reader-42"
    for secret in (pem.encode(), pem.strip().encode()):
        forged = hand_made({"alg": "HS256", "typ": "JWT"}, claims(sub="attacker"), secret)
        with pytest.raises(InvalidToken):
            verifier.subject(forged, now=NOW)


def test_other_family_and_curve_are_refused(
    make_settings: Make, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    ec_verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=public_pem(ec_key)))
    with pytest.raises(InvalidToken):
        ec_verifier.subject(jwt.encode(claims(), rsa_key, algorithm="RS256"), now=NOW)
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidToken):
        ec_verifier.subject(jwt.encode(claims(), p384, algorithm="ES384"), now=NOW)
    rsa_verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=public_pem(rsa_key), jwt_algorithms=("RS512",)))
    with pytest.raises(InvalidToken):
        rsa_verifier.subject(jwt.encode(claims(), rsa_key, algorithm="RS256"), now=NOW)
    assert rsa_verifier.subject(jwt.encode(claims(), rsa_key, algorithm="RS512"), now=NOW) == "reader-42"


def test_algorithms_come_from_the_key(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert algorithms_for_key(rsa_key.public_key()) == ("RS256", "RS384", "RS512")
    assert algorithms_for_key(ec_key.public_key()) == ("ES256",)
    assert algorithms_for_key(b"secret") == ("HS256", "HS384", "HS512")
    assert algorithms_for_key(b"secret", ("RS256",)) == ()
    assert algorithms_for_key(object()) == ()


# ---------------------------------------------------------------------------
# JWKS


def jwk_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        text = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())
    else:
        text = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())
    data: dict[str, Any] = json.loads(text)
    data.update(kid=kid, use="sig", **extra)
    return data


def test_jwks_picks_the_key_by_kid(
    make_settings: Make,
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    jwks = tmp_path / "jwks.json"
    keys = [jwk_of(rsa_key, "k1"), jwk_of(other_rsa_key, "k2"), jwk_of(ec_key, "k3"), {"kty": "weird", "kid": "k4"}]
    jwks.write_text(json.dumps({"keys": keys}))
    verifier = JWTVerifier(make_settings(jwt_jwks_file=str(jwks), jwt_audience=AUD))

    def token(key: Any, alg: str, kid: str | None) -> str:
        headers = {"kid": kid} if kid is not None else None
        return jwt.encode(claims(), key, algorithm=alg, headers=headers)

    assert verifier.subject(token(rsa_key, "RS256", "k1"), now=NOW) == "reader-42"
    assert verifier.subject(token(other_rsa_key, "RS256", "k2"), now=NOW) == "reader-42"
    assert verifier.subject(token(ec_key, "ES256", "k3"), now=NOW) == "reader-42"
    for bad in (
        token(rsa_key, "RS256", "k2"),  # kid of another key
        token(rsa_key, "RS256", "nope"),  # unknown kid
        token(rsa_key, "RS256", None),  # no kid, several keys
        hand_made({"alg": "HS256", "kid": "k1"}, claims(), public_pem(rsa_key).encode()),  # confusion
        hand_made({"alg": "none", "kid": "k1"}, claims(), None),
    ):
        with pytest.raises(InvalidToken):
            verifier.subject(bad, now=NOW)


def test_jwks_file_is_reread_when_it_changes(
    make_settings: Make, tmp_path: Path, rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk_of(rsa_key, "only")]}))
    verifier = JWTVerifier(make_settings(jwt_audience=AUD, jwt_jwks_file=str(jwks)))
    # With a single key, a token without kid is accepted.
    assert verifier.subject(jwt.encode(claims(), rsa_key, algorithm="RS256"), now=NOW) == "reader-42"
    new_token = jwt.encode(claims(), other_rsa_key, algorithm="RS256", headers={"kid": "new"})
    with pytest.raises(InvalidToken):
        verifier.subject(new_token, now=NOW)
    jwks.write_text(json.dumps({"keys": [jwk_of(other_rsa_key, "new"), jwk_of(rsa_key, "old", alg="RS512")]}))
    assert verifier.subject(new_token, now=NOW) == "reader-42"
    # A key that declares its algorithm accepts only that one.
    with pytest.raises(InvalidToken):
        verifier.subject(jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "old"}), now=NOW)
    # A file caught half-written, or gone for a moment, keeps the keys already loaded.
    jwks.write_text('{"keys": [')
    assert verifier.subject(new_token, now=NOW) == "reader-42"
    jwks.unlink()
    assert verifier.subject(new_token, now=NOW) == "reader-42"


# ---------------------------------------------------------------------------
# configuration


def test_unusable_keys_fail_at_construction(make_settings: Make, tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigError, match="jwt_key"):
        JWTVerifier(make_settings(jwt_audience=AUD, jwt_key="short"))
    not_pem = tmp_path / "key.txt"
    not_pem.write_text("hello")
    with pytest.raises(ConfigError, match="jwt_key"):
        JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=str(not_pem)))
    with pytest.raises(ConfigError, match="jwt_key"):
        JWTVerifier(
            make_settings(jwt_audience=AUD, jwt_key="-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----")
        )
    with pytest.raises(ConfigError, match="jwt_algorithms"):
        JWTVerifier(make_settings(jwt_audience=AUD, jwt_key=public_pem(rsa_key), jwt_algorithms=("HS256",)))
    bad_jwks = tmp_path / "jwks.json"
    bad_jwks.write_text("{not json")
    with pytest.raises(ConfigError, match="jwt_jwks_file"):
        JWTVerifier(make_settings(jwt_audience=AUD, jwt_jwks_file=str(bad_jwks)))
    bad_jwks.write_text('{"no": "keys"}')
    with pytest.raises(ConfigError, match="jwt_jwks_file"):
        JWTVerifier(make_settings(jwt_audience=AUD, jwt_jwks_file=str(bad_jwks)))


def test_jwt_verifier_is_built_once_per_settings(make_settings: Make) -> None:
    settings = make_settings(jwt_audience=AUD, jwt_key=HS_SECRET)
    first = credentials_for(settings).jwt
    assert first is not None and credentials_for(settings).jwt is first
    assert credentials_for(make_settings()).jwt is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer   abc", "abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("marked", [False, True], ids=["same-tags", "traced"])
async def test_members_pages_share_their_tags_unless_each_is_marked(make_settings: Make, marked: bool) -> None:
    """A member's page gets the protection tags made once for every member, not once per member (a site with
    more members reading than the tags' cache holds would make them again for each page); only tags that
    mark the reader (``trace_copies`` in attribution mode) are made for each."""
    from bench.http_load import site
    from paywall import PaywallMiddleware
    from tests.asgi import call

    options: dict[str, Any] = {"copy_protection": "attribute", "trace_copies": True} if marked else {}
    settings = make_settings(**options)
    app = PaywallMiddleware(site, settings=settings)
    marks = set()
    for n in range(4):
        token = issue_member_token(settings, f"subscriber-{n}", 30)
        cookie = f"{settings.member_cookie}={token}".encode()
        result = await call(app, "/article", headers=[(b"accept", b"text/html"), (b"cookie", cookie)])
        assert result.status == 200 and b"data-paywall-protect" in result.body
        marks.add(b"data-mark=" in result.body and result.body.split(b"data-mark=")[1][:40])
    assert app.tags.cache_info().currsize == (4 if marked else 1)
    assert len(marks) == (4 if marked else 1)
