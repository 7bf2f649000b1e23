"""API keys: issued keys (salted hashes, JWT secrets), keys from settings, and token checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import select

from kirin_video.contract.errors import AuthenticationFailed
from kirin_video.contract.params import shown
from kirin_video.tasks.db import Database
from kirin_video.tasks.tables import ApiKey

_PREFIX = "kv_"
_ALGORITHM = "HS256"
#: What a bearer token is made of (API keys and JWTs alike): printable ASCII, no spaces.
_TOKEN = re.compile(r"[\x21-\x7e]+")
#: An access id as issued (``ak_`` and hex), with room: anything else names no key.
_ACCESS_ID = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True)
class IssuedKey:
    """A new key as shown once to its owner."""

    api_key: str
    access_id: str
    secret: str
    name: str
    created_at: int
    webhook_secret: str


@dataclass(frozen=True)
class KeyInfo:
    access_id: str
    name: str
    created_at: int
    revoked_at: int | None


def _hash(key: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


def issue_key(db: Database, *, name: str = "") -> IssuedKey:
    """Create a key; only its salted hash is stored, the JWT secret is kept to verify tokens."""
    access_id = "ak_" + secrets.token_hex(10)
    api_key = f"{_PREFIX}{access_id}.{secrets.token_urlsafe(32)}"
    salt = secrets.token_hex(16)
    row = ApiKey(
        access_id=access_id,
        name=name,
        key_salt=salt,
        key_hash=_hash(api_key, salt),
        jwt_secret=secrets.token_urlsafe(32),
        webhook_secret=new_webhook_secret(),
        created_at=int(time.time()),
    )
    with db.session(write=True) as session:
        session.add(row)
    return IssuedKey(
        api_key, access_id, row.jwt_secret, name, row.created_at, row.webhook_secret or ""
    )


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def rotate_webhook_secret(db: Database, access_id: str) -> str | None:
    """Give the key a new webhook secret (used from the next delivery on); None if unknown."""
    with db.session(write=True) as session:
        row = session.get(ApiKey, access_id)
        if row is None or row.revoked_at is not None:
            return None
        row.webhook_secret = new_webhook_secret()
        return row.webhook_secret


def webhook_secret(db: Database, owner: str) -> str | None:
    """The webhook secret of an issued key's owner (None for keys from settings)."""
    with db.session() as session:
        return session.scalar(select(ApiKey.webhook_secret).where(ApiKey.access_id == owner))


def list_keys(db: Database) -> list[KeyInfo]:
    with db.session() as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()
        return [KeyInfo(r.access_id, r.name, r.created_at, r.revoked_at) for r in rows]


def revoke_key(db: Database, access_id: str) -> bool:
    """Revoke at once; returns False for an unknown access id."""
    with db.session(write=True) as session:
        row = session.get(ApiKey, access_id)
        if row is None:
            return False
        row.revoked_at = row.revoked_at or int(time.time())
        return True


def settings_owner(key: str) -> str:
    """The caller id of a key listed in ``KIRIN_API_KEYS`` (the key itself is never stored)."""
    return "env_" + hashlib.sha256(key.encode()).hexdigest()[:24]


class Authenticator:
    """Turns a bearer token into the caller id that owns tasks."""

    def __init__(
        self, db: Database, *, settings_keys: list[str], jwt_max_lifetime_s: float = 24 * 3600
    ) -> None:
        self._db = db
        self._settings_keys = list(settings_keys)
        self._jwt_max_lifetime_s = jwt_max_lifetime_s

    def caller(self, token: str) -> str:
        token = token.strip()
        if not token:
            raise AuthenticationFailed(
                "Authorization: a bearer token is required; got none", reason="missing"
            )
        known = self.settings_caller(token)
        if known is not None:
            return known
        if not _TOKEN.fullmatch(token):  # before any look-up: every key and JWT is plain ASCII
            raise AuthenticationFailed(
                "Authorization: the token must be printable ASCII (an API key or a JWT); "
                "got other characters"
            )
        if token.startswith(_PREFIX):
            return self._issued_key(token)
        if token.count(".") == 2:
            return self._jwt(token)
        raise AuthenticationFailed("Authorization: the token is not a known API key or a JWT")

    def settings_caller(self, token: str) -> str | None:
        """The owner of a key from settings, or None: no database, so no thread is needed."""
        given = token.strip().encode()
        for key in self._settings_keys:
            if hmac.compare_digest(key.encode(), given):
                return settings_owner(key)
        return None

    def _active_key(self, access_id: str) -> ApiKey | None:
        with self._db.session() as session:
            row = session.get(ApiKey, access_id)
        return row if row is not None and row.revoked_at is None else None

    def _issued_key(self, token: str) -> str:
        access_id = token[len(_PREFIX) :].split(".", 1)[0]
        row = self._active_key(access_id) if _ACCESS_ID.fullmatch(access_id) else None
        if row is None or not hmac.compare_digest(row.key_hash, _hash(token, row.key_salt)):
            raise AuthenticationFailed("Authorization: unknown or revoked API key")
        return row.access_id

    def _jwt(self, token: str) -> str:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(
                "Authorization: a JWT must be three base64url parts, the middle one a JSON "
                "object of claims; got a token that is not"
            ) from exc
        valid = isinstance(issuer, str) and _ACCESS_ID.fullmatch(issuer) is not None
        row = self._active_key(issuer) if valid else None  # type: ignore[arg-type]
        if row is None:
            raise AuthenticationFailed(
                f"Authorization: JWT iss must be an active access id; got {shown(issuer)}"
            )
        try:
            claims = jwt.decode(
                token,
                row.jwt_secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "iss"]},
                issuer=row.access_id,
            )
        except jwt.PyJWTError as exc:
            raise _refusal(exc, token) from exc
        self._check_lifetime(claims)
        return row.access_id

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        """A JWT lives at most the set lifetime, from its ``iat`` and from now: none for ever."""
        longest = self._jwt_max_lifetime_s
        exp, now, iat = claims["exp"], time.time(), claims.get("iat")
        starts = [("now", now)] + ([("iat", iat)] if isinstance(iat, int | float) else [])
        for name, start in starts:
            if exp - start > longest:
                raise AuthenticationFailed(
                    f"Authorization: a JWT may live at most {longest:g} s (exp at most that "
                    f"after iat and after now); got exp {exp}, {exp - start:.0f} s after {name}"
                )


def _refusal(exc: jwt.PyJWTError, token: str) -> AuthenticationFailed:
    """Why a signed JWT is refused, in our words (the library's are not the API's)."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return AuthenticationFailed(
            "Authorization: the JWT has expired (its exp is past)", reason="expired"
        )
    if isinstance(exc, jwt.ImmatureSignatureError):
        return AuthenticationFailed(
            "Authorization: the JWT is not valid yet (its nbf or iat is in the future)",
            reason="not_yet_valid",
        )
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return AuthenticationFailed(f"Authorization: the JWT must carry {exc.claim}; got none")
    if isinstance(exc, jwt.InvalidAlgorithmError):
        algorithm = jwt.get_unverified_header(token).get("alg")
        return AuthenticationFailed(
            f"Authorization: a JWT must be signed with {_ALGORITHM}; got {shown(algorithm)}"
        )
    if isinstance(exc, jwt.InvalidSignatureError):
        return AuthenticationFailed(
            "Authorization: the JWT's signature does not match its key's secret"
        )
    return AuthenticationFailed(
        "Authorization: a JWT's exp, nbf and iat must be numbers (Unix seconds); "
        "got a claim that is not"
    )
