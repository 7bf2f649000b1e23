// Server-Sent Events read with fetch(), since EventSource cannot send an Authorization header.
// The parser follows the HTML standard's event-stream rules: lines end in CRLF, LF or CR,
// a blank line ends an event, lines starting with ":" are comments.

/** Turns pushed text into events; a line ending split across chunks is handled. */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.skipLf = false;
    this.id = null; // the last event id: it carries over to the events after it, as in browsers
    this.reset();
  }

  reset() {
    this.type = "";
    this.data = [];
  }

  push(text) {
    if (this.skipLf && text.startsWith("\n")) text = text.slice(1);
    this.skipLf = false;
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop();
    this.skipLf = this.buffer === "" && text.endsWith("\r"); // its LF may open the next chunk
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }

  dispatch() {
    const event = { event: this.type || "message", data: this.data.join("\n"), id: this.id };
    const empty = this.data.length === 0;
    this.reset();
    if (!empty) this.onEvent(event);
  }
}

/** The events of a response body, in order, until the server closes it. */
export async function* readEvents(body) {
  const queue = [];
  const parser = new SseParser((event) => queue.push(event));
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
      while (queue.length) yield queue.shift();
    }
  } finally {
    reader.releaseLock();
  }
}
