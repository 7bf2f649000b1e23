"""Debian's chromium driven by Playwright for the playground's tests; no browser is downloaded.

Outside CI a machine without chromium skips these tests and says so; with
``KIRIN_REQUIRE_BROWSER=1`` (CI sets it) a missing chromium fails them instead. Screenshots go
under the test's own directory and, when ``KIRIN_SCREENSHOTS`` names a directory, there too
in 256 colours to keep them small (``make screenshots`` refreshes docs/images/playground so).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1100, "height": 800}
PHONE = {"width": 390, "height": 800}


def require_chromium(path: Path = CHROMIUM, *, required: bool | None = None) -> None:
    """Skip (or, where a browser is required, fail) unless chromium is installed at ``path``."""
    if path.is_file() and os.access(path, os.X_OK):
        return
    if required is None:
        required = os.environ.get("KIRIN_REQUIRE_BROWSER") == "1"
    message = f"the playground's browser tests need Debian's chromium at {path}"
    if required:
        pytest.fail(f"{message} (KIRIN_REQUIRE_BROWSER=1); install the chromium package")
    pytest.skip(f"{message}; install the chromium package to run them")


@contextmanager
def chromium() -> Iterator[Browser]:
    """The installed chromium, started headless with no network of its own beyond the tests'."""
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    """What the page reported: errors (a CSP refusal is one) and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        expected = "the server responded with a status of 4"  # the page shows these itself
        if message.type == "error" and expected not in message.text:
            self.errors.append(message.text)


@dataclass
class Shots:
    """Screenshots of the page's states, named for them."""

    directory: Path

    def take(self, target: Page | Locator, name: str) -> Path:
        """The viewport (a page) or one part of it (a locator), as ``name``.png."""
        path = self.directory / f"{name}.png"
        target.screenshot(path=str(path), animations="disabled", caret="hide")
        if extra := os.environ.get("KIRIN_SCREENSHOTS"):
            Path(extra).mkdir(parents=True, exist_ok=True)
            small(path, Path(extra) / path.name)
        return path


def small(source: Path, target: Path) -> None:
    """A copy in 256 colours: a third of the size, and a page's flat colours survive it."""
    with Image.open(source) as image:
        colours = image.convert("RGB").quantize(256, dither=Image.Dither.NONE)
        colours.save(target, optimize=True)
