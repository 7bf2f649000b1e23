// The API as the page uses it: same origin, the key as a Bearer header, the contract's errors.
import { readEvents } from "./sse.js";

export const GENERATION = "/model/v1/generation";
export const CANCELLED = "8002005097";
const FINISHED = new Set(["completed", "failed"]);
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

/** An answer that was not 200, with the contract's code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** Worth asking again: the server or the network, not the request, was at fault. */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export function finished(task) {
  return FINISHED.has(task.status);
}

export class Api {
  constructor(getKey) {
    this.getKey = getKey;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.getKey()}`, ...extra };
  }

  async request(method, path, body) {
    const init = { method, headers: this.headers(), cache: "no-store" };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      throw new ApiError(0, "", `network: the server did not answer (${error.message})`);
    }
    if (!response.ok) throw await errorOf(response);
    return response.json();
  }

  models() {
    return this.request("GET", "/v1/models");
  }

  create(model, params) {
    return this.request("POST", GENERATION, { model, input: [{ params }] });
  }

  task(id) {
    return this.request("GET", `${GENERATION}/task/${encodeURIComponent(id)}`);
  }

  cancel(id) {
    return this.request("POST", `${GENERATION}/task/${encodeURIComponent(id)}/cancel`);
  }

  /** A page of the key's tasks, newest first, as long as the server's default page. */
  list(cursor) {
    const query = cursor ? `?${new URLSearchParams({ cursor })}` : "";
    return this.request("GET", `${GENERATION}${query}`);
  }

  /** Calls onTask with each task object the stream sends until the finished one. */
  async follow(id, onTask, signal) {
    const path = `${GENERATION}/task/${encodeURIComponent(id)}/stream`;
    let lastId = null;
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      try {
        const outcome = await this.readStream(path, lastId, onTask, signal);
        if (outcome.done) return;
        if (outcome.lastId !== lastId) attempt = 0; // it moved on: start the backoff anew
        lastId = outcome.lastId;
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof ApiError) || !error.transient) throw error;
      }
      await sleep(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)], signal);
    }
  }

  async readStream(path, lastId, onTask, signal) {
    const headers = this.headers({ Accept: "text/event-stream" });
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    let response;
    try {
      response = await fetch(path, { headers, signal, cache: "no-store" });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ApiError(0, "", `network: ${error.message}`);
    }
    if (response.status === 204) return { done: true, lastId }; // the end was already seen
    if (!response.ok) throw await errorOf(response);
    try {
      for await (const event of readEvents(response.body)) {
        if (event.event !== "task") continue;
        lastId = event.id;
        const task = taskOf(event.data);
        onTask(task);
        if (finished(task)) return { done: true, lastId };
      }
    } catch (error) {
      if (signal.aborted || error instanceof ApiError) throw error;
      // a dropped connection: come back from the last event seen
    }
    return { done: false, lastId };
  }
}

function taskOf(data) {
  try {
    return JSON.parse(data);
  } catch {
    throw new ApiError(200, "", "stream: an event that is not a task object");
  }
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not the contract's envelope (a proxy's page): the status says enough
  }
  const error = body && typeof body.error === "object" && body.error ? body.error : {};
  const message = error.message || (body && body.message) || `HTTP ${response.status}`;
  return new ApiError(response.status, error.code || "", message);
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms * (0.75 + Math.random() / 2));
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
