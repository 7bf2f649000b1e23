// A model's form, generated from its entry in /v1/models, and the server's errors put next to
// the field their message names ("image_list[1].image: …"), or above the button when none does.
import { h, uid } from "./dom.js";
import { fieldFor } from "./fields.js";

// Another name for callback_url, listed so hosted clients keep working: one field is enough.
const ALIASES = new Set(["callback"]);
const FIELD_NAME = /^([A-Za-z_]\w*)((?:\[\d+\])?(?:\.[A-Za-z_]\w*)*):\s/;

export class ModelForm {
  constructor(model, onSubmit) {
    this.model = model;
    const required = new Set(model.required || []);
    this.fields = Object.entries(model.parameters)
      .filter(([name]) => !ALIASES.has(name))
      .map(([name, schema]) => fieldFor(name, schema, required.has(name)));
    this.general = h("p", { class: "error general", id: uid("form-error"), role: "alert" });
    this.button = h("button", { type: "submit", class: "primary" }, "Generate");
    this.element = h(
      "form",
      { class: "model-form", novalidate: true, "aria-label": `New video with ${model.name}` },
      h("p", { class: "help" }, model.description),
      this.fields.map((field) => field.element),
      this.general,
      this.button,
    );
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      onSubmit(this);
    });
    this.followMode();
  }

  /** Fields allowed only in some modes (x-modes) open and close as the mode changes. */
  followMode() {
    const mode = this.fields.find((f) => f.name === "mode");
    const ruled = this.fields.filter((f) => f.setMode);
    if (!mode || !ruled.length) return;
    const apply = () => ruled.forEach((f) => f.setMode(mode.read()));
    mode.element.addEventListener("change", apply);
    apply();
  }

  /** The params object of the create body: only what the user set or the enums chose. */
  params() {
    const params = {};
    for (const field of this.fields) {
      const value = field.read();
      if (value !== undefined) params[field.name] = value;
    }
    return params;
  }

  busy(on) {
    this.button.disabled = on;
    this.button.textContent = on ? "Sending…" : "Generate";
  }

  clearErrors() {
    this.general.textContent = "";
    for (const field of this.fields) field.clearErrors();
  }

  /** Show the server's message where it belongs and move focus there. */
  showError(message) {
    const match = FIELD_NAME.exec(message);
    const field = match && this.fields.find((f) => f.name === match[1]);
    if (!field) {
      this.general.textContent = message; // an alert: read out where the focus stays
      return;
    }
    const slot = field.slot(match[2]);
    slot.setError(message);
    slot.focus();
  }

  /** Put a seed into the form, to make the same video again. */
  useSeed(seed) {
    const field = this.fields.find((f) => f.name === "seed");
    if (!field) return;
    field.set(seed);
    field.focus();
  }
}
