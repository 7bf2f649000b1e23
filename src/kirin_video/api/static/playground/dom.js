// Building the page's elements in code: h("p", {class: "help"}, "text") and unique ids.

let counter = 0;

/** A fresh element id, unique in the page, readable in the inspector. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** An element with attributes (on* become listeners, true means present) and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

/** Space-separated ids of the elements given, for aria-describedby. */
export function ids(...elements) {
  return elements.filter(Boolean).map((element) => element.id).join(" ");
}

/** A short human size: 12 KB, 3.4 MB. */
export function bytes(count) {
  const mb = 1024 * 1024;
  if (count >= mb) return `${trim(count / mb)} MB`;
  return `${Math.max(1, Math.round(count / 1024))} KB`;
}

/** A number without needless decimals: 2.5, 10, 0.33. */
export function trim(number) {
  return String(Math.round(number * 100) / 100);
}

/** Mark a control as (not) in error for assistive technology. */
export function invalid(control, on) {
  if (on) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
}
