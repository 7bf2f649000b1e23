"""The browser playground: static files over the public API, holding no secret of their own.

The page asks for a key and sends it as any client does, so it needs no auth of its own and
is behind exactly the API's. Its Content-Security-Policy runs only its own scripts and styles
and talks only to this origin; pictures and videos may also come from output URLs elsewhere
(a bucket's presigned URLs, a public URL in front of the server).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from kirin_video.api.deps import ServicesDep
from kirin_video.config import Settings
from kirin_video.contract.errors import TaskNotFound

router = APIRouter(tags=["playground"])

PATH = "/playground"
PAGE = "index.html"
STATIC: Traversable = files("kirin_video.api").joinpath("static", "playground")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: Headers of every playground answer: never sniffed, always revalidated, no referrer sent.
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
}


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    """A browser opening the server lands on the playground."""
    return RedirectResponse(PATH, status_code=307)


@router.get(PATH, include_in_schema=False)
def page(services: ServicesDep) -> Response:
    """The page itself, under a policy that lets nothing but its own files run."""
    policy = content_security_policy(services.settings)
    return _answer(PAGE, {"Content-Security-Policy": policy, "X-Frame-Options": "DENY"})


@router.get(PATH + "/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    """One of the page's files, by name."""
    if name not in assets():
        raise TaskNotFound(f"path: no such playground file {name!r}")
    return _answer(name, {})


def assets() -> frozenset[str]:
    """The files next to the page that it may load: scripts, style sheet, icon."""
    return frozenset(
        entry.name
        for entry in STATIC.iterdir()
        if entry.is_file() and entry.name != PAGE and _suffix(entry.name) in MEDIA_TYPES
    )


def content_security_policy(settings: Settings) -> str:
    """Scripts, styles and API calls from this origin only; media also from output origins."""
    media = " ".join(("'self'", "blob:", "https:", *_output_origins(settings)))
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "connect-src": "'self'",
        "img-src": media,
        "media-src": media,
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _output_origins(settings: Settings) -> list[str]:
    """Origins output URLs may name besides this one: the public URL, an S3 endpoint."""
    origins = []
    for url in (settings.public_url, settings.s3_endpoint_url):
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


def _answer(name: str, headers: dict[str, str]) -> Response:
    body = STATIC.joinpath(name).read_bytes()
    media_type = MEDIA_TYPES[_suffix(name)]
    return Response(body, media_type=media_type, headers={**HEADERS, **headers})
