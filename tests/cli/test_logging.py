"""The long-running commands' log: one record per line whatever a request carries, and one line a
second when file descriptors run short."""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kirin_video.cli._logging import setup_logging
from kirin_video.config import Settings

#: What a client could put in a path, a header or a body field that a log line repeats.
FORGING = "/x\r\nINFO:     kirin_video.access: [x] POST /model/v1/generation -> 200\x1b[2K\u2028"


@pytest.fixture
def log_to_stderr(tmp_path: Path) -> Iterator[None]:
    """``setup_logging`` for a test, the root logger put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _setup(tmp_path: Path, log_format: str) -> None:
    setup_logging(Settings(data_dir=tmp_path, log_format=log_format))


@pytest.mark.usefixtures("log_to_stderr")
def test_text_record_stays_one_line_with_request_text_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(tmp_path, "text")
    logging.getLogger("kirin_video.surfaces.base").error("unhandled error on GET %s", FORGING)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        r"/x\r\nINFO:     kirin_video.access: [x] POST /model/v1/generation -> 200\x1b[2K\u2028"
    )


@pytest.mark.usefixtures("log_to_stderr")
def test_text_traceback_lines_are_indented_so_only_records_start_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(tmp_path, "text")
    try:
        raise ValueError(f"bad value {FORGING}")
    except ValueError:
        logging.getLogger("kirin_video.surfaces.base").exception("unhandled error")
    first, *rest = capsys.readouterr().err.splitlines()
    assert first.startswith("ERROR:") and rest
    assert all(line.startswith("    ") for line in rest), rest
    assert "\x1b" not in "".join(rest)


@pytest.mark.usefixtures("log_to_stderr")
def test_json_message_escaped_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(tmp_path, "json")
    logging.getLogger("kirin_video.access").info("GET %s -> 404", FORGING)
    (line,) = capsys.readouterr().err.splitlines()
    message = json.loads(line)["message"]
    assert message.isprintable() and message.startswith(r"GET /x\r\nINFO:")


@pytest.mark.usefixtures("log_to_stderr")
def test_running_out_of_descriptors_logs_one_line_a_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(tmp_path, "text")
    shortage = OSError(errno.EMFILE, "Too many open files")
    for _ in range(500):  # the event loop's accept errors, one per connection tried
        logging.getLogger("asyncio").error(
            "socket.accept() out of system resource\nsocket: <socket>",
            exc_info=(OSError, shortage, None),
        )
    (line,) = capsys.readouterr().err.splitlines()
    assert "socket.accept() out of system resource: Too many open files" in line


@pytest.mark.usefixtures("log_to_stderr")
def test_an_event_loop_error_repeating_word_for_word_logs_once_a_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(tmp_path, "text")
    loop_log = logging.getLogger("asyncio")
    closed = ValueError("Invalid file descriptor: -1")
    for _ in range(200):  # the accept retries an out-of-files spell left behind, listener closed
        loop_log.error(
            "Exception in callback _start_serving()", exc_info=(ValueError, closed, None)
        )
    loop_log.error("Task exception was never retrieved")
    records = [line for line in capsys.readouterr().err.splitlines() if not line.startswith(" ")]
    assert records == [
        "ERROR:     asyncio: [-] Exception in callback _start_serving()",
        "ERROR:     asyncio: [-] Task exception was never retrieved",
    ]
