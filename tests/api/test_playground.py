"""The playground's routes: the page and its files, open to anyone, holding nothing secret."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from kirin_video.api.routes.playground import assets
from kirin_video.config import Settings
from tests.conftest import KEY_A, KEY_B
from tests.helpers import kirin_error

PAGE = "/playground"
#: ``import … from "./x.js"`` and ``import("./x.js")`` in the page's modules.
IMPORTS = re.compile(r"""(?:from\s+|import\s*\(\s*)["']\./([\w.-]+)["']""")


class Page(HTMLParser):
    """What the page loads and anything that would run inline."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        source = named.get("src") if tag == "script" else named.get("href")
        if tag in ("script", "link") and source:
            self.loads.append(source)
        elif tag == "script":
            self.inline.append("a <script> without src")
        self.inline += [f"{tag} {name}=" for name in named if name == "style" or name[:2] == "on"]

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style" and data.strip():
            self.inline.append("a <style> element")


def parsed(client: TestClient) -> Page:
    page = Page()
    page.feed(client.get(PAGE).text)
    return page


def policy(client: TestClient) -> dict[str, list[str]]:
    header = client.get(PAGE).headers["content-security-policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def every_file(client: TestClient) -> dict[str, str]:
    """The page and each file it loads, following the modules' imports."""
    found = {PAGE: client.get(PAGE).text}
    todo = [path for path in parsed(client).loads]
    while todo:
        path = todo.pop()
        if path in found:
            continue
        answer = client.get(path)
        assert answer.status_code == 200, path
        found[path] = answer.text
        todo += [f"{PAGE}/{name}" for name in IMPORTS.findall(answer.text)]
    return found


def test_a_browser_opening_the_server_is_sent_to_the_playground(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == PAGE


def test_the_page_is_html_and_needs_no_key(client: TestClient) -> None:
    answer = client.get(PAGE)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<title>Kirin playground</title>" in answer.text


def test_every_file_the_page_loads_is_served_with_its_type(client: TestClient) -> None:
    files = every_file(client)
    types = {path: client.get(path).headers["content-type"] for path in files}
    scripts = [path for path in files if path.endswith(".js")]
    assert {"/playground/playground.js", "/playground/sse.js", "/playground/api.js"} <= set(scripts)
    assert all(types[path] == "text/javascript; charset=utf-8" for path in scripts)
    assert types["/playground/playground.css"] == "text/css; charset=utf-8"
    assert {path.rsplit("/", 1)[1] for path in files if path != PAGE} == set(assets())


def test_the_policy_runs_only_the_pages_own_files(client: TestClient) -> None:
    directives = policy(client)
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert not [value for values in directives.values() for value in values if "unsafe" in value]
    assert parsed(client).inline == []


def test_videos_and_pictures_may_come_from_output_origins(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        public_url="http://videos.example:8080/kirin", s3_endpoint_url="http://minio.local:9000"
    )
    directives = policy(client)
    for name in ("media-src", "img-src"):
        assert {"'self'", "https:", "http://videos.example:8080", "http://minio.local:9000"} <= set(
            directives[name]
        )
        assert "http:" not in directives[name]


def test_the_page_holds_no_secret(client: TestClient, settings: Settings) -> None:
    secrets = [KEY_A, KEY_B]
    secrets += [path.read_text().strip() for path in settings.data_dir.glob("*secret*")]
    assert len(secrets) > 2, "the server made its secrets in the data dir"
    text = "\n".join(every_file(client).values())
    assert [secret for secret in secrets if secret in text] == []


@pytest.mark.parametrize("name", ["nope.js", "index.html", "..%2Fplayground.py", "%2E%2E"])
def test_only_the_pages_files_are_served(client: TestClient, name: str) -> None:
    kirin_error(client.get(f"{PAGE}/{name}"), status=404, code="8002005013")


def test_the_playground_is_not_part_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith(PAGE)]
