// The task panel: status, progress and queue place as the stream reports them, a Cancel button,
// and once done the video, its watermarked copy, the cover, downloads and the seed.
import { CANCELLED, finished } from "./api.js";
import { h } from "./dom.js";

/** A task's state in a few words: "queued, #3", "runs next", "running, 42 %", "completed". */
export function stateOf(task) {
  if (task.status === "completed") return "completed";
  if (task.status === "failed") return task.error?.code === CANCELLED ? "cancelled" : "failed";
  const position = task.metadata?.queue_position;
  if (position === 1) return "runs next";
  if (position) return `queued, #${position}`;
  if (typeof task.progress === "number") return `running, ${Math.round(task.progress * 100)} %`;
  return "starting";
}

function byId(id) {
  return document.getElementById(id);
}

export class TaskPanel {
  constructor(api, { onSeed, onChange }) {
    this.api = api;
    this.onSeed = onSeed;
    this.onChange = onChange;
    this.task = null;
    this.following = null;
    for (const name of ["section", "title", "id", "model", "status", "progress", "cancel", "error",
      "result", "video", "watermarked", "cover", "downloads", "seed", "useSeed"]) {
      this[name] = byId(`task-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    }
    this.cancel.addEventListener("click", () => this.cancelTask());
    this.useSeed.addEventListener("click", () =>
      this.onSeed(this.task.model, this.task.metadata.seed),
    );
  }

  /** Show a task the page just created or the list opened, and follow it until it ends. */
  show(task) {
    this.following?.abort();
    this.task = null;
    this.error.textContent = "";
    this.section.hidden = false;
    this.render(task);
    this.title.focus();
    if (finished(task)) return;
    const controller = new AbortController();
    this.following = controller;
    const { signal } = controller;
    this.api
      .follow(task.id, (update) => signal.aborted || this.render(update), signal)
      .catch((error) => {
        if (!signal.aborted) this.error.textContent = `The stream stopped: ${error.message}`;
      });
  }

  async open(id) {
    try {
      this.show(await this.api.task(id));
    } catch (error) {
      this.section.hidden = false;
      this.error.textContent = error.message;
    }
  }

  render(task) {
    const was = this.task;
    this.task = task;
    this.id.textContent = task.id;
    this.model.textContent = task.model;
    this.status.textContent = `Status: ${stateOf(task)}`;
    this.section.dataset.status = task.status;
    const percent = task.status === "completed" ? 100 : Math.round((task.progress || 0) * 100);
    this.progress.value = percent;
    this.progress.setAttribute("aria-valuenow", String(percent));
    this.cancel.hidden = finished(task);
    this.cancel.disabled = false;
    if (task.status === "failed") {
      this.error.textContent = task.error?.message || "The task failed.";
    }
    this.renderResult(task);
    if (!was || was.status !== task.status) this.onChange(task);
  }

  renderResult(task) {
    this.result.hidden = task.status !== "completed";
    if (this.result.hidden) return;
    const items = task.output?.[0]?.content || [];
    const video = items.find((item) => item.type === "video" && !item.watermarked);
    const marked = items.find((item) => item.type === "video" && item.watermarked);
    const cover = items.find((item) => item.type === "image");
    this.place(this.video, video);
    this.place(this.watermarked, marked);
    this.place(this.cover, cover);
    const links = [
      [video, "Video (MP4)", "video.mp4"],
      [marked, "Watermarked video (MP4)", "watermarked.mp4"],
      [cover, "Cover (JPEG)", "cover.jpg"],
    ];
    this.downloads.replaceChildren(
      ...links
        .filter(([item]) => item)
        .map(([item, label, file]) =>
          h("li", {}, h("a", { href: item.url, download: `${task.id}-${file}` }, label)),
        ),
    );
    const seed = task.metadata?.seed;
    const again = `seed ${seed} — use it to make the same video again`;
    this.seed.textContent = seed === undefined ? "" : again;
    this.useSeed.hidden = seed === undefined;
  }

  place(element, item) {
    element.closest("figure").hidden = !item;
    if (item && element.getAttribute("src") !== item.url) element.src = item.url;
    if (!item) element.removeAttribute("src");
  }

  async cancelTask() {
    this.cancel.disabled = true;
    try {
      this.render(await this.api.cancel(this.task.id));
    } catch (error) {
      this.error.textContent = error.message;
      this.cancel.disabled = false;
    }
    this.title.focus();
  }
}
