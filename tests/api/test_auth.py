"""Authentication: settings keys, issued keys, HS256 JWTs; and each caller sees only its tasks."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kirin_video.tasks import keys
from kirin_video.tasks.tables import ApiKey
from tests.conftest import KEY_A, KEY_B, b64, bearer, make_image
from tests.helpers import GENERATION, create, kirin_error, task_path

BODY = {"model": "kirin_v1_6_i2v", "image": b64(make_image())}


def _issue(client: TestClient) -> keys.IssuedKey:
    return keys.issue_key(client.app.state.services.db, name="test")  # type: ignore[attr-defined]


def _token(issued: keys.IssuedKey, **claims: Any) -> str:
    payload = {
        "iss": issued.access_id,
        "exp": int(time.time()) + 600,
        "nbf": int(time.time()) - 5,
        **claims,
    }
    return jwt.encode(payload, issued.secret, algorithm="HS256")


def _status(client: TestClient, token: str | None) -> tuple[int, str | None]:
    headers = bearer(token) if token is not None else {}
    response = client.get(GENERATION, headers=headers)
    return response.status_code, response.json().get("error", {}).get("code")


def test_settings_key_is_accepted(client: TestClient) -> None:
    assert _status(client, KEY_A) == (200, None)


def test_issued_key_is_accepted(client: TestClient) -> None:
    assert _status(client, _issue(client).api_key) == (200, None)


def test_jwt_signed_with_key_secret_is_accepted(client: TestClient) -> None:
    assert _status(client, _token(_issue(client))) == (200, None)


@pytest.mark.parametrize(
    "make_token",
    [
        lambda issued: None,
        lambda issued: "",
        lambda issued: "not-a-key",
        lambda issued: issued.api_key + "x",
        lambda issued: "kv_ak_unknown.abc",
        lambda issued: _token(issued, exp=int(time.time()) - 10),
        lambda issued: _token(issued, nbf=int(time.time()) + 600),
        lambda issued: jwt.encode({"iss": issued.access_id}, issued.secret, algorithm="HS256"),
        lambda issued: jwt.encode(
            {"iss": issued.access_id, "exp": int(time.time()) + 60},
            "wrong-secret-" + "x" * 32,
            algorithm="HS256",
        ),
        lambda issued: jwt.encode(
            {"iss": "ak_nobody", "exp": int(time.time()) + 60}, issued.secret, algorithm="HS256"
        ),
        lambda issued: jwt.encode(
            {"iss": issued.access_id, "exp": int(time.time()) + 60},
            issued.secret,
            algorithm="HS512",
        ),
        lambda issued: jwt.encode(
            {"iss": issued.access_id, "exp": int(time.time()) + 60}, None, algorithm="none"
        ),
        lambda issued: "a.b.c",
    ],
    ids=[
        "missing",
        "empty",
        "unknown",
        "altered key",
        "unknown access id",
        "expired jwt",
        "jwt not yet valid",
        "jwt without exp",
        "jwt wrong secret",
        "jwt unknown issuer",
        "jwt other algorithm",
        "jwt alg none",
        "malformed jwt",
    ],
)
@pytest.mark.filterwarnings("ignore:The HMAC key is")
def test_bad_credentials_are_401(client: TestClient, make_token: Any) -> None:
    token = make_token(_issue(client))
    assert _status(client, token) == (401, "8002005006")
    headers = bearer(token) if token is not None else {}
    refused = client.get(GENERATION, headers=headers)
    assert "Authorization" in kirin_error(refused, status=401, code="8002005006")


def test_revoked_key_and_its_jwts_stop_working_at_once(client: TestClient) -> None:
    issued = _issue(client)
    token = _token(issued)
    assert _status(client, issued.api_key) == (200, None)
    assert keys.revoke_key(client.app.state.services.db, issued.access_id)  # type: ignore[attr-defined]
    assert _status(client, issued.api_key) == (401, "8002005006")
    assert _status(client, token) == (401, "8002005006")


def test_keys_are_stored_only_as_salted_hashes(client: TestClient) -> None:
    issued = _issue(client)
    db = client.app.state.services.db  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT * FROM api_keys").all()
    assert issued.api_key not in repr(rows)


def _stored(client: TestClient, access_id: str) -> tuple[str, str]:
    """The (salt, hash) row of an issued key, read straight from the table."""
    db = client.app.state.services.db  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        row = connection.execute(
            select(ApiKey.key_salt, ApiKey.key_hash).where(ApiKey.access_id == access_id)
        ).one()
    return str(row.key_salt), str(row.key_hash)


def test_stored_hash_is_the_salted_sha256_of_the_key(client: TestClient) -> None:
    issued = _issue(client)
    salt, stored = _stored(client, issued.access_id)
    assert len(bytes.fromhex(salt)) == 16
    assert stored == hashlib.sha256(f"{salt}:{issued.api_key}".encode()).hexdigest()
    assert stored != hashlib.sha256(issued.api_key.encode()).hexdigest()


def test_two_keys_get_different_salts(client: TestClient) -> None:
    first, second = _issue(client), _issue(client)
    assert _stored(client, first.access_id)[0] != _stored(client, second.access_id)[0]


def test_issued_key_is_checked_in_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = _issue(client)
    _, stored = _stored(client, issued.access_id)
    compared: list[tuple[object, object]] = []
    original = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module keys.py calls through
    assert _status(client, issued.api_key) == (200, None)
    assert _status(client, issued.api_key[:-1] + "x") == (401, "8002005006")
    assert [a for a, _ in compared if a == stored] == [stored, stored]  # each attempt, via hmac


def test_jwt_and_key_of_one_issued_key_are_the_same_caller(client: TestClient) -> None:
    issued = _issue(client)
    created = create(client, BODY, key=issued.api_key)
    seen = client.get(task_path(created["id"]), headers=bearer(_token(issued)))
    assert seen.status_code == 200 and seen.json()["id"] == created["id"]


def test_another_key_cannot_get_list_or_cancel(client: TestClient) -> None:
    created = create(client, {**BODY, "external_task_id": "mine"})
    for ref in (created["id"], "mine"):
        unknown = client.get(task_path("task_nope"), headers=bearer(KEY_B))
        response = client.get(task_path(ref), headers=bearer(KEY_B))
        assert ref in kirin_error(response, status=404, code="8002005013")
        assert response.json()["message"] == unknown.json()["message"].replace("task_nope", ref)
        cancel = client.post(task_path(ref, "cancel"), headers=bearer(KEY_B))
        kirin_error(cancel, status=404, code="8002005013")
    assert client.get(GENERATION, headers=bearer(KEY_B)).json()["data"] == []
    assert client.get(task_path(created["id"]), headers=bearer(KEY_A)).json()["status"] == (
        "in_progress"
    )


def test_healthz_needs_no_auth(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


#: What PyJWT says of a token it refuses: never part of an answer.
PYJWT_WORDS = ("Not enough segments", "Signature verification failed", "Signature has expired")
PYJWT_WORDS += ("The token is not yet valid", "not allowed", "Invalid", "segment", "padding")


@pytest.mark.parametrize(
    ("claims", "lived"),
    [
        ({"exp": 253402300799}, "after now"),  # the last second of year 9999
        ({"exp": int(time.time()) + 24 * 3600 + 120}, "after now"),
        ({"iat": int(time.time()) - 2 * 24 * 3600, "exp": int(time.time()) + 60}, "after iat"),
    ],
    ids=["year 9999", "a day and two minutes", "issued two days ago"],
)
def test_a_jwt_that_lives_longer_than_the_setting_is_401(
    client: TestClient, claims: dict[str, int], lived: str
) -> None:
    issued = _issue(client)
    token = jwt.encode({"iss": issued.access_id, **claims}, issued.secret, algorithm="HS256")
    message = kirin_error(
        client.get(GENERATION, headers=bearer(token)), status=401, code="8002005006"
    )
    assert message.startswith("Authorization: a JWT may live at most 86400 s"), message
    assert f"got exp {claims['exp']}" in message and lived in message, message


def test_jwts_as_kling_clients_make_them_stay_valid_up_to_the_limit(client: TestClient) -> None:
    issued = _issue(client)
    now = int(time.time())
    assert _status(client, _token(issued, exp=now + 1800, nbf=now - 5)) == (200, None)
    assert _status(client, _token(issued, iat=now, exp=now + 24 * 3600 - 60)) == (200, None)


def test_the_longest_jwt_lifetime_is_a_setting(make_client: Any) -> None:
    client = make_client(jwt_max_lifetime_s=10**12)
    issued = _issue(client)
    assert _status(client, _token(issued, exp=253402300799)) == (200, None)
    short = make_client(jwt_max_lifetime_s=60)
    assert _status(short, _token(_issue(short), exp=int(time.time()) + 600)) == (
        401,
        "8002005006",
    )


@pytest.mark.parametrize(
    ("make_token", "says"),
    [
        (lambda issued: "a.b.c", "three base64url parts"),
        (lambda issued: "kv.x.y", "three base64url parts"),
        (lambda issued: _token(issued, exp=int(time.time()) - 10), "has expired"),
        (lambda issued: _token(issued, nbf=int(time.time()) + 600), "not valid yet"),
        (lambda issued: _token(issued, exp="soon"), "must be numbers"),
        (
            lambda issued: jwt.encode(
                {"iss": issued.access_id, "exp": int(time.time()) + 60}, "x" * 32
            ),
            "signature does not match",
        ),
        (
            lambda issued: jwt.encode(
                {"iss": issued.access_id, "exp": int(time.time()) + 60}, None, algorithm="none"
            ),
            "must be signed with HS256; got 'none'",
        ),
        (lambda issued: jwt.encode({"iss": issued.access_id}, issued.secret), "must carry exp"),
    ],
    ids=[
        "malformed",
        "not base64",
        "expired",
        "not yet",
        "exp a string",
        "wrong secret",
        "alg none",
        "no exp",
    ],
)
def test_jwt_refusals_say_why_in_our_words(client: TestClient, make_token: Any, says: str) -> None:
    response = client.get(GENERATION, headers=bearer(make_token(_issue(client))))
    message = kirin_error(response, status=401, code="8002005006")
    assert says in message, message
    assert not [words for words in PYJWT_WORDS if words in message], message
