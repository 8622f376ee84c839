"""Bearer tokens as Supabase Auth issues them: what is accepted and everything refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pixelmotion.security import InvalidToken, TokenVerifier
from tests.server import http_server, wait_for

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
AUDIENCE = "authenticated"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "alice",
        "aud": AUDIENCE,
        "role": "authenticated",
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def verifier(jwks_url: str | None = None, cooldown: float = 30.0) -> TokenVerifier:
    return TokenVerifier(
        secret=SECRET, audience=AUDIENCE, jwks_url=jwks_url, refresh_cooldown_seconds=cooldown
    )


def test_a_supabase_style_hs256_token_is_accepted() -> None:
    caller = verifier().verify(jwt.encode(claims(), SECRET, algorithm="HS256"))
    assert caller.user_id == "alice" and caller.role == "authenticated"


def test_a_verified_token_is_known_again_only_as_itself_and_until_it_expires() -> None:
    checker = verifier()
    token = jwt.encode(claims(exp=int(time.time()) + 1), SECRET, algorithm="HS256")
    assert checker.verify(token).user_id == "alice"
    assert checker.verify(token).user_id == "alice"  # known: no second signature check
    header, payload, _signature = token.split(".")
    forged = jwt.encode(claims(sub="mallory"), "not-the-secret-but-long-enough-for-hs256", algorithm="HS256")
    with pytest.raises(InvalidToken):  # another signature on the same claims is checked afresh
        checker.verify(f"{header}.{payload}.{forged.split('.')[2]}")

    def refused() -> bool:
        try:
            checker.verify(token)
        except InvalidToken:
            return True
        return False

    wait_for(refused, timeout=15, what="the token refused once expired (5 s leeway)", interval=0.25)


def unsigned(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, None, algorithm="none")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (unsigned(claims()), "alg none"),
        (jwt.encode(claims(), SECRET * 2, algorithm="HS512"), "another algorithm"),
        (
            jwt.encode(claims(), "the-wrong-secret-but-long-enough-for-hs256", algorithm="HS256"),
            "wrong signature",
        ),
        (jwt.encode(claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256"), "expired"),
        (jwt.encode(claims(nbf=int(time.time()) + 600), SECRET, algorithm="HS256"), "not yet valid"),
        (jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256"), "wrong audience"),
        (jwt.encode(claims(sub=None), SECRET, algorithm="HS256"), "no sub"),
        (jwt.encode(claims(exp=None), SECRET, algorithm="HS256"), "no exp"),
        ("not.a.jwt", "garbage"),
    ],
)
def test_bad_tokens_are_refused(token: str, why: str) -> None:
    with pytest.raises(InvalidToken):
        verifier().verify(token)


def test_an_asymmetric_token_without_a_jwks_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidToken):
        verifier().verify(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": "k1"}))


class Jwks:
    """A JWKS served on loopback, as Supabase serves /auth/v1/.well-known/jwks.json."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0

    def add(self, private_key: Any, kid: str, algorithm: str) -> None:
        public = jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(
            private_key.public_key(), as_dict=True
        )
        self.keys.append({**public, "kid": kid, "alg": algorithm, "use": "sig"})


@pytest.fixture
def jwks() -> Iterator[tuple[Jwks, str]]:
    state = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Handler) as httpd:
        yield state, f"http://127.0.0.1:{httpd.server_address[1]}/auth/v1/.well-known/jwks.json"


def test_es256_and_rs256_tokens_are_checked_against_the_jwks(jwks: tuple[Jwks, str]) -> None:
    keys, url = jwks
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys.add(ec_key, "ec-1", "ES256")
    keys.add(rsa_key, "rsa-1", "RS256")
    check = verifier(url)
    assert (
        check.verify(jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": "ec-1"})).user_id
        == "alice"
    )
    assert (
        check.verify(
            jwt.encode(claims(sub="bob"), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
        ).user_id
        == "bob"
    )
    assert keys.fetches == 1  # cached
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidToken):  # signed by a key that is not in the set, under a known kid
        check.verify(jwt.encode(claims(), other, algorithm="ES256", headers={"kid": "ec-1"}))


def test_an_unknown_kid_refreshes_the_keys(jwks: tuple[Jwks, str]) -> None:
    keys, url = jwks
    first = ec.generate_private_key(ec.SECP256R1())
    keys.add(first, "old", "ES256")
    check = verifier(url, cooldown=0)
    check.verify(jwt.encode(claims(), first, algorithm="ES256", headers={"kid": "old"}))
    rotated = ec.generate_private_key(ec.SECP256R1())
    keys.add(rotated, "new", "ES256")  # the issuer rotates its signing key
    assert (
        check.verify(jwt.encode(claims(), rotated, algorithm="ES256", headers={"kid": "new"})).user_id
        == "alice"
    )
    assert keys.fetches == 2
    with pytest.raises(InvalidToken):
        check.verify(jwt.encode(claims(), rotated, algorithm="ES256", headers={"kid": "never-published"}))


def test_a_flood_of_unknown_kids_fetches_the_keys_once(jwks: tuple[Jwks, str]) -> None:
    keys, url = jwks
    key = ec.generate_private_key(ec.SECP256R1())
    keys.add(key, "k", "ES256")
    check = verifier(url)  # the default cooldown
    for n in range(20):
        with pytest.raises(InvalidToken):
            check.verify(jwt.encode(claims(), key, algorithm="ES256", headers={"kid": f"made-up-{n}"}))
    assert keys.fetches <= 2
