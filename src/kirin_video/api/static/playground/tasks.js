// The key's tasks, newest first, a page at a time: status, created, model, Open and Cancel.
import { finished } from "./api.js";
import { h } from "./dom.js";
import { stateOf } from "./task.js";

export class TaskList {
  constructor(api, { onOpen }) {
    this.api = api;
    this.onOpen = onOpen;
    this.names = {};
    this.cursor = null;
    this.list = document.getElementById("tasks-list");
    this.status = document.getElementById("tasks-status");
    this.more = document.getElementById("tasks-more");
    this.more.addEventListener("click", () => this.load(this.cursor));
    document.getElementById("tasks-refresh").addEventListener("click", () => this.refresh());
  }

  refresh() {
    return this.load(null);
  }

  clear() {
    this.list.replaceChildren();
    this.more.hidden = true;
    this.status.textContent = "";
  }

  async load(cursor) {
    this.status.textContent = "Loading…";
    try {
      const page = await this.api.list(cursor);
      const rows = page.data.map((task) => this.row(task));
      if (cursor) this.list.append(...rows);
      else this.list.replaceChildren(...rows);
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      this.count();
    } catch (error) {
      this.status.textContent = `Could not load the tasks: ${error.message}`;
    }
  }

  count() {
    const count = this.list.children.length;
    const shown = `${count} task${count === 1 ? "" : "s"} shown`;
    this.status.textContent = count ? shown : "No tasks yet.";
  }

  row(task) {
    const created = new Date(task.created_at);
    const open = h("button", { type: "button", "aria-label": `Open task ${task.id}` }, "Open");
    open.addEventListener("click", () => this.onOpen(task.id));
    const label = `Cancel task ${task.id}`;
    const cancel = finished(task)
      ? null
      : h("button", { type: "button", class: "secondary", "aria-label": label }, "Cancel");
    cancel?.addEventListener("click", () => this.cancel(task.id, cancel));
    return h(
      "li",
      { class: "task-row", "data-task-id": task.id, "data-status": task.status },
      h("span", { class: `badge ${task.status}` }, stateOf(task)),
      h("time", { datetime: created.toISOString() }, created.toLocaleString()),
      h("span", { class: "model" }, this.names[task.model] || task.model),
      h("code", { class: "task-id" }, task.id),
      h("span", { class: "actions" }, open, cancel),
    );
  }

  async cancel(id, button) {
    button.disabled = true;
    try {
      this.update(await this.api.cancel(id), true);
    } catch (error) {
      this.status.textContent = `Could not cancel ${id}: ${error.message}`;
      button.disabled = false;
    }
  }

  /** Redraw one task's row, when the panel or a cancel learnt something new about it. */
  update(task, focus = false) {
    const row = this.row(task);
    const old = this.list.querySelector(`[data-task-id="${CSS.escape(task.id)}"]`);
    if (old) old.replaceWith(row);
    else this.list.prepend(row); // a task made since the list was loaded
    this.count();
    if (focus) row.querySelector("button").focus(); // the Cancel button pressed has gone
  }
}
