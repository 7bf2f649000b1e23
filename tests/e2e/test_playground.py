"""The playground in a real browser (Debian's chromium) against real `kirin serve` processes.

One server runs tasks (the preview engine, on the CPU); another runs none, so tasks stay
queued for as long as a test needs them there. Each state the page goes through is saved as
a screenshot (see ``tests/e2e/browser.py``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, FileChooser, Locator, Page, Route, expect

from tests.conftest import KEY_A, b64, bearer, make_image
from tests.e2e.browser import DESKTOP, PHONE, Console, Shots, chromium, require_chromium
from tests.e2e.conftest import ServerProcess, all_tasks, cancel_unfinished, free_port

I2V, MULTI = "Kirin V1.6 Image to Video", "Kirin V1.6 Multi Image to Video"
PROMPT = re.compile(r"^Prompt")
RUN_S = 90_000  # ms a 5 s preview video may take on a slow machine
#: Records every value the progress bar announces, in order.
RECORD_PROGRESS = """() => {
  const bar = document.getElementById("task-progress");
  window.seenProgress = [];
  new MutationObserver(() => window.seenProgress.push(Number(bar.getAttribute("aria-valuenow"))))
    .observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
}"""
#: A DataTransfer holding one PNG, as a drag from the desktop would carry it.
DRAGGED_FILE = """(data) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], "hat.png", {type: "image/png"}));
  return transfer;
}"""
VIDEO_READY = "(video) => video.readyState >= 1 && Number.isFinite(video.duration)"


@dataclass
class Ui:
    page: Page
    console: Console
    shots: Shots


def _server(tmp: Path, **env: str) -> ServerProcess:
    return ServerProcess(tmp / "data", free_port()).start(
        KIRIN_ENGINE="preview", KIRIN_STREAM_POLL_S="0.1", KIRIN_ALLOW_PRIVATE_URLS="true", **env
    )


@pytest.fixture(scope="module")
def working(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that runs tasks, one at a time."""
    require_chromium()
    node = _server(tmp_path_factory.mktemp("working"), KIRIN_WORKERS="1")
    yield node
    node.stop()


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    require_chromium()
    node = _server(tmp_path_factory.mktemp("idle"), KIRIN_WORKERS="0")
    yield node
    node.stop()


@pytest.fixture
def idle(idle_server: ServerProcess) -> Iterator[ServerProcess]:
    """A server whose tasks wait in the queue until cancelled; each test leaves it empty."""
    yield idle_server
    cancel_unfinished(idle_server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def ui(browser: Browser, tmp_path: Path) -> Iterator[Ui]:
    """A fresh page (its own storage) at desktop size, its console watched."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    console = Console()
    console.watch(page)
    yield Ui(page, console, Shots(tmp_path))
    context.close()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    sizes = {"cat": (480, 320, 0), "hat": (400, 400, 1), "small": (200, 150, 2)}
    paths = {name: folder / f"{name}.png" for name in sizes}
    for name, (width, height, seed) in sizes.items():
        paths[name].write_bytes(make_image(width, height, seed=seed))
    return paths


def sign_in(page: Page, node: ServerProcess, key: str = KEY_A, *, taken: bool = True) -> None:
    page.goto(node.url + "/")
    expect(page).to_have_url(node.url + "/playground")
    page.get_by_role("textbox", name="API key").fill(key)
    page.get_by_role("button", name="Use key").click()
    if taken:
        expect(page.get_by_role("tab", name=I2V)).to_have_attribute("aria-selected", "true")


def panel(page: Page, model: str) -> Locator:
    return page.get_by_role("tabpanel", name=model)


def picture(page: Page, model: str, label: str) -> Locator:
    return panel(page, model).get_by_role("group", name=label, exact=True)


def choose(group: Locator, path: Path) -> None:
    group.locator("input[type=file]").set_input_files(path)
    expect(group.locator(".preview img")).to_be_visible()


def generate(page: Page, model: str) -> None:
    panel(page, model).get_by_role("button", name="Generate").click()


def task_panel(page: Page) -> Locator:
    return page.locator("#task-section")


def wait_until(page: Page, status: str, timeout: float = RUN_S) -> None:
    expect(task_panel(page)).to_have_attribute("data-status", status, timeout=timeout)


def video_seconds(video: Locator) -> float:
    video.page.wait_for_function(VIDEO_READY, arg=video.element_handle(), timeout=10_000)
    return float(video.evaluate("(v) => v.duration"))


def test_an_i2v_task_from_an_uploaded_file_runs_to_a_playing_video(
    ui: Ui, working: ServerProcess, pictures: dict[str, Path]
) -> None:
    page = ui.page
    sign_in(page, working)
    first = picture(page, I2V, "First frame")
    choose(first, pictures["cat"])
    expect(first.locator(".check")).to_have_text("480×320: meets the rules.")
    panel(page, I2V).get_by_role("textbox", name=PROMPT).fill("the camera pushes in slowly")
    ui.shots.take(page, "form")
    page.evaluate(RECORD_PROGRESS)
    generate(page, I2V)
    expect(page.locator("#task-title")).to_be_focused()
    page.wait_for_function("() => window.seenProgress.some((v) => v > 0 && v < 100)")
    ui.shots.take(page, "progress")
    wait_until(page, "completed")
    seen = [v for v in page.evaluate("window.seenProgress") if v < 100]
    assert any(later > earlier for earlier, later in pairwise(seen)), seen
    expect(page.locator("#task-status")).to_have_text("Status: completed")
    expect(page.locator("#task-progress")).to_have_attribute("aria-valuenow", "100")
    video = page.locator("#task-video")
    assert video_seconds(video) == pytest.approx(5, abs=0.05)
    assert video.evaluate("(v) => [v.videoWidth, v.videoHeight]") == [1080, 720]
    cover = page.get_by_role("img", name="Cover picture of the video")
    expect(cover).to_be_visible()
    assert cover.evaluate("(img) => img.complete && img.naturalWidth") == 1080
    expect(page.locator("#task-watermarked")).to_be_hidden()
    downloads = page.locator("#task-downloads a")
    expect(downloads).to_have_text(["Video (MP4)", "Cover (JPEG)"])
    answer = page.request.get(str(downloads.first.get_attribute("href")))
    assert (answer.status, answer.headers["content-type"]) == (200, "video/mp4")
    ui.shots.take(task_panel(page), "completed")
    seed = re.fullmatch(
        r"seed (\d+) — use it to make the same video again", page.locator("#task-seed").inner_text()
    )
    assert seed is not None
    page.get_by_role("button", name="Put the seed in the form").click()
    seed_field = panel(page, I2V).get_by_role("spinbutton", name="Seed")
    expect(seed_field).to_be_focused()
    expect(seed_field).to_have_value(seed.group(1))
    row = page.locator(".task-row").first
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    assert ui.console.errors == []


def test_a_multi_task_from_two_pictures_one_dropped_delivers_both_videos(
    ui: Ui, working: ServerProcess, pictures: dict[str, Path]
) -> None:
    page = ui.page
    sign_in(page, working)
    page.get_by_role("tab", name=I2V).press("ArrowRight")
    expect(page.get_by_role("tab", name=MULTI)).to_be_focused()
    expect(panel(page, MULTI)).to_be_visible()
    choose(picture(page, MULTI, "Reference 1"), pictures["cat"])
    panel(page, MULTI).get_by_role("button", name="Add another picture").click()
    second = picture(page, MULTI, "Reference 2")
    expect(second.locator(".drop")).to_be_focused()
    dragged = page.evaluate_handle(DRAGGED_FILE, b64(pictures["hat"].read_bytes()))
    second.locator(".drop").dispatch_event("drop", {"dataTransfer": dragged})
    expect(second.locator(".check")).to_have_text("400×400: meets the rules.")
    form = panel(page, MULTI)
    form.get_by_role("textbox", name=PROMPT).fill("the cat puts on the hat")
    form.get_by_role("radio", name="1:1").check()
    form.get_by_label("Also deliver a watermarked copy").check()
    generate(page, MULTI)
    wait_until(page, "completed")
    for video in (page.locator("#task-video"), page.locator("#task-watermarked")):
        expect(video).to_be_visible()
        assert video_seconds(video) == pytest.approx(5, abs=0.05)
        assert video.evaluate("(v) => [v.videoWidth, v.videoHeight]") == [720, 720]
    expect(page.locator("#task-downloads a")).to_have_text(
        ["Video (MP4)", "Watermarked video (MP4)", "Cover (JPEG)"]
    )
    expect(page.locator("#task-model")).to_have_text("kirin_v1_6_multi_i2v")
    ui.shots.take(task_panel(page), "multi-completed")
    assert ui.console.errors == []


def test_a_too_small_picture_shows_the_check_then_the_servers_message_on_its_field(
    ui: Ui, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    page = ui.page
    sign_in(page, idle)
    first = picture(page, I2V, "First frame")
    choose(first, pictures["small"])
    expect(first.locator(".check")).to_have_text(
        "This picture breaks the rules: width and height must be at least 300 px; this is 200×150."
    )
    generate(page, I2V)
    with idle.client() as client:
        refused = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_6_i2v", "image": b64(pictures["small"].read_bytes())},
        )
    message = refused.json()["message"]
    assert refused.status_code == 400 and message.startswith("image: "), refused.text
    expect(first.locator(".error")).to_have_text(message)
    drop = first.locator(".drop")
    expect(drop).to_be_focused()
    expect(drop).to_have_attribute("aria-invalid", "true")
    described = str(drop.get_attribute("aria-describedby")).split()
    assert str(first.locator(".error").get_attribute("id")) in described
    expect(page.locator("#task-section")).to_be_hidden()
    ui.shots.take(page, "error")
    assert ui.console.errors == []


def test_a_last_frame_is_closed_in_std_mode_and_a_chosen_one_is_flagged_on_switching_back(
    ui: Ui, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    page = ui.page
    sign_in(page, idle)
    form = panel(page, I2V)
    last = picture(page, I2V, "Last frame")
    closed = "Only with mode pro: choose pro to give a last frame."
    expect(last.locator(".note")).to_have_text(closed)
    expect(last.locator(".drop")).to_be_disabled()
    expect(last.get_by_role("textbox")).to_be_disabled()
    last.locator("input[type=file]").set_input_files(pictures["hat"])  # as a drop would
    expect(last.locator(".preview")).to_be_hidden()
    form.get_by_role("radio", name="pro").check()
    expect(last.locator(".note")).to_be_hidden()
    choose(last, pictures["hat"])
    form.get_by_role("radio", name="std").check()
    expect(last.locator(".error")).to_have_text(
        f"{closed} Remove this picture to go on without it."
    )
    expect(last.locator(".drop")).to_have_attribute("aria-invalid", "true")
    ui.shots.take(form, "last-frame-in-std")
    last.get_by_role("button", name="Remove picture").click()
    expect(last.locator(".preview")).to_be_hidden()
    expect(last.locator(".error")).to_be_hidden()
    assert ui.console.errors == []


def test_the_task_list_sits_right_under_the_task_on_a_wide_screen(
    ui: Ui, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    page = ui.page
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, idle)
    choose(picture(page, I2V, "First frame"), pictures["cat"])
    generate(page, I2V)
    expect(task_panel(page)).to_be_visible()
    expect(page.locator(".task-row")).to_have_count(1)
    task, tasks = task_panel(page).bounding_box(), page.locator(".tasks-card").bounding_box()
    form = page.locator(".form-card").bounding_box()
    assert task and tasks and form
    assert tasks["x"] == task["x"] > form["x"] + form["width"]  # beside the form
    gap = tasks["y"] - (task["y"] + task["height"])
    assert 0 < gap <= 20, gap  # the grid's gap, not the form's height shared out
    ui.shots.take(page, "wide")


def test_queued_tasks_show_their_place_and_are_cancelled_from_the_list_and_the_panel(
    ui: Ui, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    page = ui.page
    sign_in(page, idle)
    choose(picture(page, I2V, "First frame"), pictures["cat"])
    generate(page, I2V)
    expect(page.locator("#task-status")).to_have_text("Status: runs next")
    first_id = page.locator("#task-id").inner_text()
    generate(page, I2V)
    expect(page.locator("#task-status")).to_have_text("Status: queued, #2")
    second_id = page.locator("#task-id").inner_text()
    expect(task_panel(page).get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    ui.shots.take(page, "queued")
    page.get_by_role("button", name=f"Cancel task {first_id}").click()
    expect(page.locator(f'[data-task-id="{first_id}"]')).to_have_attribute("data-status", "failed")
    expect(page.locator(f'[data-task-id="{first_id}"] .badge')).to_have_text("cancelled")
    expect(page.locator("#task-status")).to_have_text("Status: runs next")  # from the stream
    task_panel(page).get_by_role("button", name="Cancel task").click()
    wait_until(page, "failed", timeout=5_000)
    expect(page.locator("#task-status")).to_have_text("Status: cancelled")
    with idle.client() as client:
        cancelled = client.get(f"/model/v1/generation/task/{second_id}").json()
    assert cancelled["error"]["code"] == "8002005097"
    expect(page.locator("#task-error")).to_have_text(cancelled["error"]["message"])
    expect(task_panel(page).get_by_role("button", name="Cancel task")).to_be_hidden()
    expect(page.locator(f'[data-task-id="{second_id}"] .badge')).to_have_text("cancelled")
    ui.shots.take(page, "cancelled")
    ui.shots.take(page.locator(".tasks-card"), "tasks")
    assert ui.console.errors == []


def test_the_task_list_pages_on_with_more_and_opens_a_task(
    ui: Ui, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    body = {"model": "kirin_v1_6_i2v", "image": b64(pictures["cat"].read_bytes())}
    with idle.client() as client:
        for _ in range(21):
            assert client.post("/model/v1/generation", json=body).status_code == 200
        listed = [task["id"] for task in all_tasks(client)]
    page = ui.page
    sign_in(page, idle)
    rows = page.locator(".task-row")
    expect(rows).to_have_count(20)
    page.get_by_role("button", name="More").click()
    expect(rows).to_have_count(min(len(listed), 40))
    shown = [row.get_attribute("data-task-id") for row in rows.all()]
    assert shown == listed[: len(shown)]
    expect(page.locator(".task-row time").first).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT")
    )
    expect(rows.first.locator(".model")).to_have_text(I2V)
    page.get_by_role("button", name="Refresh").click()
    expect(rows).to_have_count(20)
    page.get_by_role("button", name=f"Open task {listed[0]}").click()
    expect(page.locator("#task-id")).to_have_text(listed[0])
    expect(page.locator("#task-status")).to_have_text(re.compile(r"^Status: queued, #\d+$"))
    assert ui.console.errors == []


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    """A web server on loopback for the files in ``folder``, as a picture's URL would name."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_picture_by_url_is_sent_as_the_url_for_the_server_to_fetch(
    ui: Ui, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    page = ui.page
    sign_in(page, idle)
    first = picture(page, I2V, "First frame")
    with serving(pictures["cat"].parent) as base:
        url = f"{base}/cat.png"
        first.get_by_role("textbox", name="or its URL (the server fetches it)").fill(url)
        with page.expect_request(lambda r: r.method == "POST") as sent:
            generate(page, I2V)
        expect(page.locator("#task-status")).to_have_text("Status: runs next")  # it was fetched
    params = {"image": url, "mode": "std", "cfg_scale": 0.5, "duration": "5"}
    assert sent.value.post_data_json == {"model": "kirin_v1_6_i2v", "input": [{"params": params}]}
    expect(first.locator(".check")).to_have_text(
        "No preview of this address here; the server fetches and checks it."
    )
    task_panel(page).get_by_role("button", name="Cancel task").click()
    wait_until(page, "failed", timeout=5_000)
    assert ui.console.errors == []


def test_a_dropped_stream_is_resumed_with_the_last_event_id(
    ui: Ui, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    with idle.client() as client:
        created = client.post(
            "/model/v1/generation",
            json={"model": "kirin_v1_6_i2v", "image": b64(pictures["cat"].read_bytes())},
        ).json()
    earlier: dict[str, Any] = {**created, "metadata": {**created["metadata"], "queue_position": 7}}
    asked: list[str | None] = []

    def stream(route: Route) -> None:
        asked.append(route.request.headers.get("last-event-id"))
        if len(asked) > 1:
            route.continue_()
            return
        event = f"event: task\r\nid: before-the-drop\r\ndata: {json.dumps(earlier)}\r\n\r\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=event)

    page = ui.page
    page.route("**/stream", stream)
    sign_in(page, idle)
    with page.expect_request(lambda r: "last-event-id" in r.headers, timeout=10_000) as resumed:
        page.get_by_role("button", name=f"Open task {created['id']}").click()
    assert resumed.value.url.endswith(f"/task/{created['id']}/stream")
    assert resumed.value.headers["last-event-id"] == "before-the-drop"
    assert asked[0] is None  # the first connection had seen nothing yet
    expect(page.locator("#task-status")).to_have_text("Status: runs next")  # the server's event
    with idle.client() as client:
        assert client.post(f"/model/v1/generation/task/{created['id']}/cancel").is_success
    wait_until(page, "failed", timeout=5_000)
    assert ui.console.errors == []


def test_the_stream_parser_reads_any_line_ending_split_anywhere(
    ui: Ui, idle: ServerProcess
) -> None:
    page = ui.page
    page.goto(idle.url + "/playground")
    text = (
        ': ping\r\n\r\nevent: task\r\nid: 1\r\ndata: {"a":\r\ndata:  1}\r\n\r\n'
        "event: task\nid: 2\ndata: two\n\n: comment\rdata: three\r\r"
        "data\n\n"
    )
    for size in (1, 2, 3, 7, len(text)):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        events = page.evaluate(
            """async (chunks) => {
                 const { SseParser } = await import("/playground/sse.js");
                 const seen = [];
                 const parser = new SseParser((event) => seen.push(event));
                 for (const chunk of chunks) parser.push(chunk);
                 return seen;
               }""",
            chunks,
        )
        assert events == [
            {"event": "task", "data": '{"a":\n 1}', "id": "1"},
            {"event": "task", "data": "two", "id": "2"},
            {"event": "message", "data": "three", "id": "2"},
            {"event": "message", "data": "", "id": "2"},
        ], size


def test_the_key_is_kept_in_the_browser_until_forgotten_and_never_in_the_url(
    ui: Ui, idle: ServerProcess
) -> None:
    page = ui.page
    sign_in(page, idle, key="not-a-key", taken=False)
    expect(page.locator("#key-status")).to_contain_text("The server refused the key: Authorization")
    expect(page.get_by_role("tablist")).to_be_hidden()
    assert page.evaluate("Object.values(localStorage)") == []  # a refused key is not kept
    key = page.get_by_role("textbox", name="API key")
    expect(key).to_have_attribute("type", "password")
    page.get_by_role("button", name="Show").click()
    expect(key).to_have_attribute("type", "text")
    expect(page.get_by_role("button", name="Hide")).to_have_attribute("aria-pressed", "true")
    key.fill(KEY_A)
    key.press("Enter")
    expect(page.get_by_role("tab", name=MULTI)).to_be_visible()
    page.reload()
    expect(page.get_by_role("tab", name=MULTI)).to_be_visible()
    expect(key).to_have_value(KEY_A)
    assert KEY_A not in page.url
    page.get_by_role("button", name="Forget key").click()
    expect(key).to_have_value("")
    expect(page.get_by_role("tablist")).to_be_hidden()
    assert page.evaluate("Object.values(localStorage)") == []
    page.reload()
    expect(key).to_have_value("")
    assert ui.console.errors == []


def test_the_page_fits_a_phone_and_the_drop_zone_opens_the_picker_by_keyboard(
    browser: Browser, tmp_path: Path, idle: ServerProcess, pictures: dict[str, Path]
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    console = Console()
    console.watch(page)
    # Listening from the start: a chooser opened before the listener is set would be missed.
    choosers: list[FileChooser] = []
    page.on(
        "filechooser",
        lambda chooser: choosers.append(chooser) or chooser.set_files(pictures["cat"]),
    )
    sign_in(page, idle)
    first = picture(page, I2V, "First frame")
    first.locator(".drop").focus()
    page.keyboard.press("Enter")
    expect(first.locator(".check")).to_have_text("480×320: meets the rules.")
    assert len(choosers) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    first.scroll_into_view_if_needed()
    Shots(tmp_path).take(page, "phone")
    context.close()
    assert console.errors == []


def test_the_server_answers_a_browser_with_the_page_without_a_key(idle: ServerProcess) -> None:
    answer = httpx.get(idle.url + "/", follow_redirects=True)
    assert (answer.status_code, answer.url.path) == (200, "/playground")
    assert httpx.get(idle.url + "/v1/models").status_code == 401
    assert httpx.get(idle.url + "/v1/models", headers=bearer(KEY_A)).status_code == 200


def test_a_missing_chromium_skips_outside_ci_and_fails_where_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "chromium"
    with pytest.raises(pytest.skip.Exception, match=f"chromium at {missing}"):
        require_chromium(missing, required=False)
    with pytest.raises(pytest.fail.Exception, match=r"KIRIN_REQUIRE_BROWSER=1"):
        require_chromium(missing, required=True)
    monkeypatch.setenv("KIRIN_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match=f"chromium at {missing}"):
        require_chromium(missing)
    monkeypatch.delenv("KIRIN_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception):
        require_chromium(missing)
