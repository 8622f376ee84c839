"""Secrets at work: signing callback URLs, issuing and checking JWTs, keeping tokens out of logs."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import jwt

CALLBACK_PATH = "/v1/callbacks/luma/{job_id}"
# A name=value pair in a URL or a log line; the name is judged after percent-decoding, so
# ``t%6Fken=`` (which a server reads as ``token=``) is hidden too.
_PARAMETER = re.compile(r"(?P<name>[A-Za-z0-9_.~+%-]+)=(?P<value>[^&\s\"']+)")
KEYFRAME_PATH = "/v1/keyframes/{upload_id}"


def callback_token(secret_key: str, job_id: str) -> str:
    """The per-job secret in a callback URL: an HMAC of the job id, so nothing is stored."""
    return hmac.new(secret_key.encode(), f"luma-callback:{job_id}".encode(), hashlib.sha256).hexdigest()


def verify_callback_token(secret_keys: Sequence[str], job_id: str, token: str | None) -> bool:
    """True if ``token`` is the job's token under any of the keys (the current one, and the
    previous one while rotating, so callbacks of jobs already in flight stay valid)."""
    matches = [_same(callback_token(key, job_id), token or "") for key in secret_keys if key]
    return bool(token) and any(matches)


def _same(expected: str, given: str) -> bool:
    """A constant-time comparison of a hex secret with what a request carried. On bytes:
    ``hmac.compare_digest`` raises TypeError for a str with non-ASCII characters, and any
    text can arrive in a query string."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def callback_url(public_url: str, secret_key: str, job_id: str) -> str:
    path = CALLBACK_PATH.format(job_id=job_id)
    return f"{public_url.rstrip('/')}{path}?token={callback_token(secret_key, job_id)}"


def keyframe_url(public_url: str, secret_key: str, owner: str, upload_id: str, expires: int) -> str:
    """A link the provider can fetch our stored keyframe from, until ``expires`` (unix time)."""
    path = KEYFRAME_PATH.format(upload_id=upload_id)
    sig = _keyframe_signature(secret_key, owner, upload_id, expires)
    return f"{public_url.rstrip('/')}{path}?owner={owner}&expires={expires}&sig={sig}"


def verify_keyframe_signature(
    secret_keys: Sequence[str], owner: str, upload_id: str, expires: int, sig: str, now: float
) -> bool:
    if expires < now:
        return False
    return any(_same(_keyframe_signature(key, owner, upload_id, expires), sig) for key in secret_keys if key)


def _keyframe_signature(secret_key: str, owner: str, upload_id: str, expires: int) -> str:
    message = f"keyframe:{owner}:{upload_id}:{expires}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def redact(text: str) -> str:
    """Hide the values of ``token=``, ``access_token=``, ``sig=`` (any name ending so, however
    percent-encoded) in URLs and log lines."""
    return _PARAMETER.sub(_redact_parameter, text) if "=" in text else text


def _redact_parameter(match: re.Match[str]) -> str:
    name = match.group("name")
    decoded = name
    for _ in range(3):  # double encoding (t%256Fken) decodes to a secret name too
        once = unquote_plus(decoded)
        if once == decoded:
            break
        decoded = once
    if decoded.lower().endswith(("token", "sig")):
        return f"{name}=REDACTED"
    # The value may itself hold a URL with secrets (``next=https://x/?token=…``).
    return f"{name}={redact(match.group('value'))}"


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def json_nesting_exceeds(raw: bytes, limit: int) -> bool:
    """True if the JSON text ``raw`` nests arrays/objects deeper than ``limit``: checked on
    the bytes, without recursion, before anything parses or walks it (a body nested a
    thousand deep would otherwise end in RecursionError in a recursive walk)."""
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        if depth > limit:
            return True
    return False


def redact_json(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    return value


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired or not for us."""


@dataclass(frozen=True)
class Caller:
    user_id: str
    role: str
    claims: dict[str, Any]


def issue_token(
    secret: str,
    user_id: str,
    *,
    audience: str,
    role: str = "authenticated",
    ttl_seconds: int = 30 * 86400,
) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "aud": audience, "role": role, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    """Checks bearer tokens as Supabase Auth issues them: HS256 with the shared secret, or
    ES256/RS256 with a key from the JWKS (cached; fetched again when a token names an
    unknown ``kid``). Any other algorithm, ``none`` included, is refused."""

    ASYMMETRIC = ("ES256", "RS256")

    def __init__(
        self,
        *,
        secret: str,
        audience: str,
        jwks_url: str | None = None,
        refresh_cooldown_seconds: float = 30.0,
    ) -> None:
        self._secret = secret
        self._audience = audience
        self._verified: dict[str, tuple[Caller, float]] = {}
        # The cooldown keeps a flood of made-up kids from hammering the issuer's JWKS.
        self._jwks = (
            jwt.PyJWKClient(
                jwks_url,
                cache_keys=True,
                lifespan=600,
                timeout=10,
                cooldown_duration=refresh_cooldown_seconds,
            )
            if jwks_url
            else None
        )

    # Tokens already verified, by their whole text (signature included), until they expire:
    # a client sends the same token on every poll, and checking its signature again cost
    # about a tenth of a request's CPU. Bounded; emptied when full.
    VERIFIED_KEPT = 4096

    def verify(self, token: str) -> Caller:
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        caller = self._verify(token)
        expires = caller.claims.get("exp")
        if isinstance(expires, int | float):
            if len(self._verified) >= self.VERIFIED_KEPT:
                self._verified.clear()
            self._verified[token] = (caller, float(expires))
        return caller

    def _verify(self, token: str) -> Caller:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise InvalidToken("token is malformed") from None
        key: Any
        if algorithm == "HS256":
            key = self._secret
        elif algorithm in self.ASYMMETRIC and self._jwks is not None:
            try:
                key = self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as error:
                raise InvalidToken(f"no signing key for this token ({error})") from None
        else:
            raise InvalidToken(f"tokens signed with {algorithm!r} are not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                options={"require": ["exp", "sub"]},
                leeway=5,
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(_describe(error)) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("token has no subject")
        return Caller(user_id=subject, role=str(claims.get("role", "authenticated")), claims=claims)


def verify_token(token: str, *, secret: str, audience: str) -> Caller:
    """An HS256 token (``pixelmotion token``'s kind), checked with the shared secret."""
    return TokenVerifier(secret=secret, audience=audience).verify(token)


def _describe(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "token has expired"
    if isinstance(error, jwt.InvalidAudienceError):
        return "token is for another audience"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"token lacks the {error.claim!r} claim"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "token is not valid yet"
    return "token is invalid"
