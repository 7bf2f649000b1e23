"""Finding 4 against a real `kirin serve` on PostgreSQL: the inputs that answered 500 (some before
authentication) answer 400 or 401 in the surface's envelope, create nothing, and log no traceback;
and LiteLLM's repeated form fields create a multi-reference video."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.conftest import b64, bearer, make_image
from tests.e2e.conftest import ServerProcess, free_port

PNG = make_image(480, 320)
DATA_URL = "data:image/png;base64," + b64(PNG)
GENERATION = "/model/v1/generation"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[ServerProcess]:
    """One server for the module, on the machine's PostgreSQL (where NUL answered 500)."""
    data_dir = tmp_path_factory.mktemp("hostile-text") / "data"
    process = ServerProcess(data_dir, free_port()).start(
        KIRIN_WORKERS="0", KIRIN_DATABASE_URL=postgres_url
    )
    yield process
    process.stop()


@pytest.fixture
def client(node: ServerProcess) -> Iterator[httpx.Client]:
    with node.client() as client:
        yield client


def _count(client: httpx.Client) -> int:
    return len(client.get(f"{GENERATION}?limit=100").json()["data"])


def _no_traceback(node: ServerProcess) -> None:
    log = node.log()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]


@pytest.mark.parametrize("iss", ["\ud800", "ak_\u0000"], ids=["lone surrogate", "nul"])
def test_a_jwt_iss_no_key_can_have_is_401_before_any_signature_check(
    node: ServerProcess, iss: str
) -> None:
    token = jwt.encode({"iss": iss, "exp": 2_000_000_000}, "no-key-" + "x" * 32)
    answer = httpx.get(f"{node.url}{GENERATION}", headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "8002005006"
    _no_traceback(node)


def test_a_lone_surrogate_prompt_on_v1_videos_is_400_and_stores_nothing(
    node: ServerProcess, client: httpx.Client
) -> None:
    before = _count(client)
    body = json.dumps({"prompt": "a \ud800", "input_reference": DATA_URL})
    answer = client.post("/v1/videos", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == "prompt"
    assert _count(client) == before
    assert client.get("/v1/videos").status_code == 200
    _no_traceback(node)


@pytest.mark.parametrize(
    "path",
    [
        f"{GENERATION}/task/a%00",
        f"{GENERATION}?cursor="
        + base64.urlsafe_b64encode(json.dumps([1.0, "a\u0000"]).encode()).decode(),
        "/v1/videos/image2video?external_task_id=a%00",
        "/v1/videos?after=a%00",
    ],
    ids=["task id", "cursor", "kling external_task_id", "after"],
)
def test_nul_in_an_id_query_or_cursor_is_400(
    node: ServerProcess, client: httpx.Client, path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 400, answer.text
    _no_traceback(node)


@pytest.mark.parametrize("seed", ["\u00b2", "9" * 4301], ids=["superscript two", "4301 digits"])
def test_a_form_seed_that_is_not_ascii_digits_is_400(
    node: ServerProcess, client: httpx.Client, seed: str
) -> None:
    files = {"input_reference": ("frame.png", PNG, "image/png")}
    answer = client.post("/v1/videos", data={"prompt": "p", "seed": seed}, files=files)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == "seed"
    _no_traceback(node)


def test_litellms_repeated_input_references_make_a_multi_reference_video(
    client: httpx.Client,
) -> None:
    data = {
        "model": "kirin_v1_6_multi_i2v",
        "prompt": "two friends",
        "input_references": [DATA_URL, DATA_URL],
    }
    files = {"input_reference": ("frame.png", PNG, "image/png")}
    answer = client.post("/v1/videos", data=data, files=files)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "kirin_v1_6_multi_i2v"
    client.delete(f"/v1/videos/{answer.json()['id']}")
