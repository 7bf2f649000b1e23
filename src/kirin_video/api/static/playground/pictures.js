// One picture of a form: a file picker that is also a drop zone, or a URL; a preview; and the
// contract's checks (from the parameter's x-image rules) shown as soon as a picture is chosen.
// The checks only inform: the page sends what was chosen and the server has the last word.
import { bytes, h, ids, invalid, trim, uid } from "./dom.js";

const SIGNATURES = [
  { type: "image/png", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: "image/jpeg", bytes: [0xff, 0xd8, 0xff] },
];

/** What is wrong with a picture under the rules, one sentence per broken rule. */
export function problems(rules, facts) {
  const found = [];
  if (facts.type !== undefined && !rules.media_types.includes(facts.type)) {
    found.push(`must be ${rules.formats.join(" or ")}; this is ${facts.type || "another format"}`);
  }
  if (facts.size !== undefined && facts.size > rules.max_bytes) {
    found.push(`must be at most ${bytes(rules.max_bytes)}; this is ${bytes(facts.size)}`);
  }
  if (facts.width === undefined) return found;
  const { width, height } = facts;
  if (width < rules.min_side || height < rules.min_side) {
    const side = `${rules.min_side} px`;
    found.push(`width and height must be at least ${side}; this is ${width}×${height}`);
  }
  const aspect = rules.aspect;
  if (aspect && !(width / height >= aspect.min && width / height <= aspect.max)) {
    const bounds = `1:${trim(1 / aspect.min)} and ${trim(aspect.max)}:1`;
    found.push(`aspect ratio (w/h) must be between ${bounds}; this is ${trim(width / height)}`);
  }
  return found;
}

async function sniff(file) {
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  const match = SIGNATURES.find((s) => s.bytes.every((byte, index) => head[index] === byte));
  return match ? match.type : "";
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result); // data:<type>;base64,<data>: the wire wants the data
      resolve(url.slice(url.indexOf(",") + 1));
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function sizeOf(url) {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => resolve({ width: image.naturalWidth, height: image.naturalHeight });
    image.onerror = () => resolve(null);
    image.src = url;
  });
}

/** Whether the page's policy lets it show the picture: https, or this server's own. */
function previewable(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "https:" || parsed.origin === location.origin;
  } catch {
    return false;
  }
}

export class PictureField {
  constructor({ label, help, rules, removable = false, onRemove = null }) {
    this.rules = rules;
    this.data = ""; // the chosen file, as raw base64
    this.objectUrl = null;
    this.build(label, help, removable, onRemove);
  }

  build(label, help, removable, onRemove) {
    const title = h("span", { class: "label", id: uid("picture-label") }, label);
    this.help = help ? h("p", { class: "help", id: uid("help") }, help) : null;
    this.check = h("p", { class: "check", id: uid("check"), "aria-live": "polite" });
    this.note = h("p", { class: "help note", id: uid("note") });
    this.error = h("p", { class: "error", id: uid("error"), "aria-live": "polite" });
    this.preview = h("img", { alt: `Preview of “${label}”` });
    this.figure = h("figure", { class: "preview", hidden: true }, this.preview);
    this.clear = h("button", { type: "button", class: "link", hidden: true }, "Remove picture");
    this.clear.addEventListener("click", () => this.reset(true));
    const remove = removable
      ? h("button", { type: "button", class: "link", onclick: onRemove }, `Remove “${label}”`)
      : null;
    const inputs = h("div", { class: "picture-inputs" }, this.buildPicker(label), this.buildUrl());
    this.element = h(
      "div",
      { class: "field picture", role: "group", "aria-labelledby": title.id },
      h("div", { class: "picture-head" }, title, remove),
      this.help,
      this.note,
      h("div", { class: "picture-body" }, this.figure, inputs),
      this.check,
      this.error,
    );
  }

  /** The drop zone, a button that opens the (hidden) file input for the keyboard too. */
  buildPicker(label) {
    this.file = h("input", {
      type: "file",
      class: "visually-hidden",
      accept: this.rules.media_types.join(","),
      tabindex: "-1",
      "aria-hidden": "true",
      onchange: () => this.file.files[0] && this.pick(this.file.files[0]),
    });
    const describedBy = ids(this.help, this.note, this.check, this.error);
    this.drop = h(
      "button",
      { type: "button", class: "drop", "aria-describedby": describedBy },
      `Choose a picture for “${label}”, or drop one here`,
    );
    this.drop.addEventListener("click", () => this.file.click());
    this.wireDrop();
    return [this.drop, this.file];
  }

  buildUrl() {
    const attributes = { id: uid("url"), type: "url", inputmode: "url", placeholder: "https://…" };
    this.url = h("input", attributes);
    this.url.setAttribute("aria-describedby", ids(this.check, this.error));
    this.url.addEventListener("change", () => this.pickUrl(this.url.value.trim()));
    const text = "or its URL (the server fetches it)";
    return [h("label", { for: this.url.id, class: "url-label" }, text), this.url, this.clear];
  }

  wireDrop() {
    const over = (event) => {
      event.preventDefault();
      this.drop.classList.add("over");
    };
    this.drop.addEventListener("dragenter", over);
    this.drop.addEventListener("dragover", over);
    this.drop.addEventListener("dragleave", () => this.drop.classList.remove("over"));
    this.drop.addEventListener("drop", (event) => {
      event.preventDefault();
      this.drop.classList.remove("over");
      const file = event.dataTransfer.files[0];
      const link = event.dataTransfer.getData("text/uri-list").split(/\r?\n/)[0];
      if (file) this.pick(file);
      else if (link) this.pickUrl(link.trim());
    });
  }

  /** The picture as the wire takes it: raw base64 of a file, or the URL; "" when none. */
  get sent() {
    return this.data || this.url.value.trim();
  }

  focus() {
    this.drop.focus();
  }

  reset(focus = false) {
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
    this.data = "";
    this.file.value = "";
    this.url.value = "";
    this.figure.hidden = true;
    this.clear.hidden = true;
    this.check.textContent = "";
    this.check.className = "check";
    this.setError("");
    if (focus) this.focus();
  }

  setError(message) {
    this.error.textContent = message;
    invalid(this.drop, Boolean(message));
  }

  /** Close the field while a rule of the form rules it out (``why``), or open it ("").
   * A picture already chosen stays, named as the error, so it can be removed or the rule met. */
  restrict(why) {
    this.restricted = why;
    this.note.textContent = why;
    this.drop.disabled = Boolean(why);
    this.url.disabled = Boolean(why);
    this.setError(why && this.sent ? `${why} Remove this picture to go on without it.` : "");
  }

  async pick(file) {
    if (this.restricted) {
      this.file.value = ""; // not taken: the same file may be chosen once the field opens
      return;
    }
    this.reset();
    this.objectUrl = URL.createObjectURL(file);
    const read = [sniff(file), sizeOf(this.objectUrl), base64Of(file)];
    const [type, size, value] = await Promise.all(read);
    this.data = value;
    this.show(this.objectUrl, `${file.name}, ${bytes(file.size)}`);
    this.report(problems(this.rules, { type, size: file.size, ...(size || {}) }), size);
  }

  async pickUrl(url) {
    if (this.restricted) return;
    this.reset();
    this.url.value = url;
    if (!url) return;
    this.clear.hidden = false;
    if (!previewable(url)) {
      this.check.textContent = "No preview of this address here; the server fetches and checks it.";
      return;
    }
    const size = await sizeOf(url);
    if (this.sent !== url) return; // another picture came meanwhile
    if (!size) {
      this.check.textContent =
        "No preview (the browser could not load it); the server fetches and checks it.";
      return;
    }
    this.show(url, "from its URL");
    this.report(problems(this.rules, size), size);
  }

  show(src, caption) {
    this.preview.src = src;
    this.figure.hidden = false;
    this.clear.hidden = false;
    this.figure.replaceChildren(this.preview, h("figcaption", {}, caption));
  }

  report(found, size) {
    const shape = size ? `${size.width}×${size.height}` : "size unknown";
    this.check.className = found.length ? "check bad" : "check good";
    this.check.textContent = found.length
      ? `This picture breaks the rules: ${found.join("; ")}.`
      : `${shape}: meets the rules.`;
  }
}
