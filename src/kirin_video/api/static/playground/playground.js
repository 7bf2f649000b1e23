// The playground's start: the key, one tab and form per model of /v1/models, the task panel
// and the task list. Everything the page knows about the rules comes from the server.
import { Api } from "./api.js";
import { h } from "./dom.js";
import { ModelForm } from "./form.js";
import { TaskPanel } from "./task.js";
import { TaskList } from "./tasks.js";

const STORAGE_KEY = "kirin-playground.key";
const keyInput = document.getElementById("key");
const keyStatus = document.getElementById("key-status");
const modelsStatus = document.getElementById("models-status");
const tabs = document.getElementById("model-tabs");
const panels = document.getElementById("model-panels");

const api = new Api(() => keyInput.value.trim());
const forms = new Map();
const panel = new TaskPanel(api, {
  onSeed: (model, seed) => {
    select(model);
    forms.get(model)?.useSeed(seed);
  },
  onChange: (task) => list.update(task),
});
const list = new TaskList(api, { onOpen: (id) => panel.open(id) });

function remembered() {
  try {
    return localStorage.getItem(STORAGE_KEY) || "";
  } catch {
    return ""; // storage off (a private window's policy): the key lasts as long as the page
  }
}

function remember(key) {
  try {
    if (key) localStorage.setItem(STORAGE_KEY, key);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    keyStatus.textContent = "This browser keeps no storage here: enter the key on each visit.";
  }
}

async function useKey() {
  const key = keyInput.value.trim();
  if (!key) {
    keyStatus.textContent = "Enter an API key first.";
    keyInput.focus();
    return;
  }
  modelsStatus.textContent = "Loading the models…";
  try {
    const { data } = await api.models();
    remember(key);
    keyStatus.textContent = "Key accepted and kept in this browser.";
    showModels(data);
    list.refresh();
  } catch (error) {
    if (error.status === 401) remember(""); // a refused key is not worth keeping
    keyStatus.textContent = `The server refused the key: ${error.message}`;
    modelsStatus.textContent = "Enter a valid API key to load the models.";
    clearModels();
  }
}

function forget() {
  remember("");
  keyInput.value = "";
  keyStatus.textContent = "Key forgotten: it is no longer kept in this browser.";
  clearModels();
  list.clear();
  keyInput.focus();
}

function clearModels() {
  forms.clear();
  tabs.replaceChildren();
  panels.replaceChildren();
  tabs.hidden = true;
}

function showModels(models) {
  const chosen = tabs.querySelector("[aria-selected=true]")?.dataset.model;
  clearModels();
  for (const model of models) {
    list.names[model.id] = model.name;
    const form = new ModelForm(model, generate);
    forms.set(model.id, form);
    const tab = h("button", {
      type: "button", role: "tab", id: `tab-${model.id}`, "aria-controls": `panel-${model.id}`,
      "data-model": model.id,
    }, model.name);
    tab.addEventListener("click", () => select(model.id));
    tabs.append(tab);
    const attributes = { role: "tabpanel", id: `panel-${model.id}`, "aria-labelledby": tab.id };
    panels.append(h("div", attributes, form.element));
  }
  tabs.hidden = false;
  modelsStatus.textContent = `${models.length} models; pick one, add pictures and press Generate.`;
  select(forms.has(chosen) ? chosen : models[0].id);
}

function select(modelId, focus = false) {
  for (const tab of tabs.children) {
    const on = tab.dataset.model === modelId;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
    if (on && focus) tab.focus();
  }
}

function moveTab(event) {
  const all = [...tabs.children];
  const at = all.indexOf(document.activeElement);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1 }[event.key];
  if (at < 0 || next === undefined) return;
  event.preventDefault();
  select(all[(next + all.length) % all.length].dataset.model, true);
}

async function generate(form) {
  form.clearErrors();
  form.busy(true);
  try {
    const task = await api.create(form.model.id, form.params());
    list.update(task);
    panel.show(task);
  } catch (error) {
    form.showError(error.message);
  } finally {
    form.busy(false);
  }
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  useKey();
});
document.getElementById("key-forget").addEventListener("click", forget);
document.getElementById("key-show").addEventListener("click", (event) => {
  const show = keyInput.type === "password";
  keyInput.type = show ? "text" : "password";
  event.currentTarget.setAttribute("aria-pressed", String(show));
  event.currentTarget.textContent = show ? "Hide" : "Show";
});
tabs.addEventListener("keydown", moveTab);

keyInput.value = remembered();
if (keyInput.value) useKey();
