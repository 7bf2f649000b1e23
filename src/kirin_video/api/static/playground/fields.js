// Form controls generated from one parameter's schema in /v1/models: the rules shown and the
// defaults selected are the contract's own. Each field reads its value as the wire takes it
// (undefined: leave the parameter out) and shows the server's error for its name.
import { h, ids, invalid, uid } from "./dom.js";
import { PictureField } from "./pictures.js";

const LABELS = {
  image: "First frame",
  image_tail: "Last frame",
  image_list: "Reference pictures",
  negative_prompt: "Negative prompt",
  cfg_scale: "CFG scale",
  duration: "Duration (seconds)",
  aspect_ratio: "Aspect ratio",
  watermark_info: "Watermark",
  enabled: "Also deliver a watermarked copy",
  callback_url: "Callback URL",
  external_task_id: "External task id",
};
const LONG_TEXT = 500; // strings allowed this long get a text area
const RADIO_LIMIT = 4; // enums with more choices get a select

/** The parameter's wire name beside its label, for developers; screen readers skip it. */
function wire(name) {
  return h("code", { "aria-hidden": "true" }, name);
}

export function labelOf(name) {
  return LABELS[name] || name.charAt(0).toUpperCase() + name.slice(1).replaceAll("_", " ");
}

/** The field for one parameter, chosen by its schema. */
export function fieldFor(name, schema, required) {
  if (schema["x-image"]) return new SinglePicture(name, schema);
  if (schema.type === "array" && schema.items?.properties?.image?.["x-image"]) {
    return new PictureList(name, schema);
  }
  if (schema.enum) return new Choice(name, schema, required);
  if (schema.type === "object") return new Group(name, schema);
  if (schema.type === "boolean") return new Toggle(name, schema);
  if (schema.type === "number" || schema.type === "integer") return new NumberField(name, schema);
  return new TextField(name, schema, required);
}

function field(...parts) {
  return h("div", { class: "field" }, ...parts);
}

/** The parts every field has: a label, help text tied to the control, an error line. */
class Field {
  constructor(name, schema) {
    this.name = name;
    this.help = h("p", { class: "help", id: uid("help") }, schema.description || "");
    this.error = h("p", { class: "error", id: uid("error"), "aria-live": "polite" });
  }

  slot() {
    return this;
  }

  focus() {
    this.control.focus();
  }

  setError(message) {
    this.error.textContent = message;
    invalid(this.control, Boolean(message));
  }

  clearErrors() {
    this.setError("");
  }

  describe(control, ...more) {
    control.setAttribute("aria-describedby", ids(this.help, ...more, this.error));
  }

  label(required) {
    const mark = required ? h("span", { class: "required" }, " (required)") : null;
    return h("label", { for: this.control.id }, labelOf(this.name), mark, " ", wire(this.name));
  }
}

class TextField extends Field {
  constructor(name, schema, required) {
    super(name, schema);
    const long = (schema.maxLength || 0) >= LONG_TEXT;
    this.control = h(long ? "textarea" : "input", {
      id: uid(name),
      name,
      type: long ? null : "text",
      rows: long ? 3 : null,
      maxlength: schema.maxLength,
      "aria-required": required ? "true" : null,
    });
    this.counter = schema.maxLength ? h("span", { class: "counter", id: uid("count") }) : null;
    this.control.addEventListener("input", () => this.count());
    this.describe(this.control, this.counter);
    this.count();
    this.element = h(
      "div",
      { class: "field" },
      this.label(required),
      this.control,
      this.counter,
      this.help,
      this.error,
    );
  }

  count() {
    if (!this.counter) return;
    this.counter.textContent = `${this.control.value.length} / ${this.control.maxLength}`;
  }

  read() {
    return this.control.value === "" ? undefined : this.control.value;
  }
}

class NumberField extends Field {
  constructor(name, schema) {
    super(name, schema);
    const integer = schema.type === "integer";
    const range = (schema.maximum ?? 1) - (schema.minimum ?? 0);
    this.control = h("input", {
      id: uid(name),
      name,
      type: "number",
      inputmode: integer ? "numeric" : "decimal",
      min: schema.minimum,
      max: schema.maximum,
      step: integer ? 1 : range / 100,
      value: schema.default,
    });
    this.describe(this.control);
    this.element = field(this.label(false), this.control, this.help, this.error);
  }

  read() {
    return this.control.value === "" ? undefined : Number(this.control.value);
  }

  set(value) {
    this.control.value = String(value);
  }
}

class Choice extends Field {
  constructor(name, schema, required) {
    super(name, schema);
    this.radios = schema.enum.length <= RADIO_LIMIT;
    this.control = this.radios ? this.radioGroup(schema) : this.select(schema, required);
    this.describe(this.control);
    const label = this.radios ? null : this.label(required); // a fieldset has its legend
    this.element = field(label, this.control, this.help, this.error);
  }

  radioGroup(schema) {
    const group = uid(this.name);
    this.options = schema.enum.map((value) =>
      h("input", {
        type: "radio",
        name: group,
        value,
        id: uid(this.name),
        checked: value === schema.default,
      }),
    );
    const choices = this.options.map((input) =>
      h("label", { class: "choice", for: input.id }, input, " ", input.value),
    );
    const legend = h("legend", {}, labelOf(this.name), " ", wire(this.name));
    return h("fieldset", { class: "field choices" }, legend, h("div", { class: "row" }, choices));
  }

  select(schema, required) {
    const options = schema.enum.map((value) =>
      h("option", { value, selected: value === schema.default }, value),
    );
    const mark = required ? "true" : null;
    return h("select", { id: uid(this.name), name: this.name, "aria-required": mark }, options);
  }

  focus() {
    if (!this.radios) return this.control.focus();
    (this.options.find((input) => input.checked) || this.options[0]).focus();
  }

  read() {
    if (!this.radios) return this.control.value || undefined;
    const chosen = this.options.find((input) => input.checked);
    return chosen ? chosen.value : undefined;
  }
}

class Toggle extends Field {
  constructor(name, schema) {
    super(name, schema);
    this.default = schema.default === true;
    this.control = h("input", { type: "checkbox", id: uid(name), name, checked: this.default });
    this.describe(this.control);
    const text = labelOf(name);
    const label = h("label", { for: this.control.id, class: "choice" }, this.control, " ", text);
    this.element = h("div", { class: "field" }, label, this.help, this.error);
  }

  read() {
    return this.control.checked === this.default ? undefined : this.control.checked;
  }
}

/** An object parameter (watermark_info): its own fields, sent when one of them is set. */
class Group extends Field {
  constructor(name, schema) {
    super(name, schema);
    const properties = Object.entries(schema.properties || {});
    this.children = properties.map(([child, sub]) => fieldFor(child, sub, false));
    const legend = h("legend", {}, labelOf(name), " ", wire(name));
    const parts = this.children.map((child) => child.element);
    this.control = h("fieldset", { class: "field group" }, legend, this.help, parts);
    this.describe(this.control);
    this.element = h("div", {}, this.control, this.error);
  }

  slot(rest) {
    const child = this.children.find((field) => rest === `.${field.name}`);
    return child || this;
  }

  focus() {
    this.children[0].focus();
  }

  clearErrors() {
    this.setError("");
    for (const child of this.children) child.clearErrors();
  }

  read() {
    const value = {};
    for (const child of this.children) {
      const read = child.read();
      if (read !== undefined) value[child.name] = read;
    }
    return Object.keys(value).length ? value : undefined;
  }
}

class SinglePicture {
  constructor(name, schema) {
    this.name = name;
    this.modes = schema["x-modes"] || null; // the only modes it may be given in
    this.picture = new PictureField({
      label: labelOf(name),
      help: schema.description,
      rules: schema["x-image"],
    });
    this.element = this.picture.element;
  }

  slot() {
    return this.picture;
  }

  clearErrors() {
    this.picture.setError("");
  }

  /** Open the picture only in the modes its schema allows, closed with the reason otherwise. */
  setMode(mode) {
    if (!this.modes) return;
    const wanted = this.modes.join(" or ");
    const what = labelOf(this.name).toLowerCase();
    const why = `Only with mode ${wanted}: choose ${wanted} to give a ${what}.`;
    this.picture.restrict(this.modes.includes(mode) ? "" : why);
  }

  read() {
    return this.picture.sent || undefined;
  }
}

/** An array of pictures (image_list): from minItems slots up to maxItems, each {"image": …}. */
class PictureList extends Field {
  constructor(name, schema) {
    super(name, schema);
    this.rules = schema.items.properties.image["x-image"];
    this.itemHelp = schema.items.properties.image.description;
    this.min = Math.max(1, schema.minItems || 1);
    this.max = schema.maxItems || Infinity;
    this.pictures = [];
    this.list = h("div", { class: "pictures" });
    this.add = h("button", { type: "button", class: "secondary" }, "Add another picture");
    this.add.addEventListener("click", () => this.grow(true));
    this.control = this.add;
    const legend = h("legend", {}, labelOf(name), " ", wire(name));
    const parts = [legend, this.help, this.list, this.add];
    const fieldset = h("fieldset", { class: "field group" }, parts);
    fieldset.setAttribute("aria-describedby", ids(this.help, this.error));
    this.element = h("div", {}, fieldset, this.error);
    for (let index = 0; index < this.min; index += 1) this.grow(false);
  }

  grow(focus) {
    const removable = this.pictures.length >= this.min;
    const picture = new PictureField({
      label: `Reference ${this.pictures.length + 1}`,
      help: this.pictures.length ? null : this.itemHelp,
      rules: this.rules,
      removable,
      onRemove: () => this.remove(picture),
    });
    this.pictures.push(picture);
    this.list.append(picture.element);
    this.add.hidden = this.pictures.length >= this.max;
    if (focus) picture.focus();
  }

  remove(picture) {
    picture.reset();
    picture.element.remove();
    this.pictures = this.pictures.filter((p) => p !== picture);
    this.add.hidden = false;
    this.add.focus();
  }

  slot(rest) {
    const index = /^\[(\d+)\]/.exec(rest);
    const sent = this.pictures.filter((p) => p.sent);
    return (index && sent[Number(index[1])]) || this;
  }

  focus() {
    this.pictures[0].focus();
  }

  clearErrors() {
    this.setError("");
    for (const picture of this.pictures) picture.setError("");
  }

  read() {
    const images = this.pictures.filter((p) => p.sent).map((p) => ({ image: p.sent }));
    return images.length ? images : undefined;
  }
}
