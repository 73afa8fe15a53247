// Building DOM safely: every piece of data becomes a Text node or a property, never markup.
// There is no innerHTML anywhere in the UI; traffic is hostile input.

const FORBIDDEN_ATTRIBUTE = /^on|^(srcdoc|formaction)$/i;

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "on") for (const [event, fn] of Object.entries(value)) element.addEventListener(event, fn);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name === "value" || name === "checked" || name === "disabled" || name === "hidden") element[name] = value;
    else if (FORBIDDEN_ATTRIBUTE.test(name)) throw new Error(`attribute ${name} is not set from data`);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

export function toast(message, actions = [], { error = false, timeout = 6000 } = {}) {
  const root = document.getElementById("toasts");
  const node = h("div", { class: error ? "toast error" : "toast", role: "status" }, h("span", {}, message),
    actions.map(([label, fn]) => h("button", { on: { click: () => { node.remove(); fn(); } } }, label)),
    h("button", { class: "close", title: "Dismiss", on: { click: () => node.remove() } }, "×"));
  root.append(node);
  if (timeout) setTimeout(() => node.remove(), timeout);
  return node;
}

export function modal(title, body, buttons = []) {
  // A dialog over the page; resolves with the value of the button pressed (undefined on Escape).
  return new Promise((resolve) => {
    const close = (value) => { root.remove(); document.removeEventListener("keydown", onKey, true); resolve(value); };
    const onKey = (e) => { if (e.key === "Escape") { e.stopPropagation(); close(undefined); } };
    const root = h("div", { class: "modal-backdrop" },
      h("div", { class: "modal", role: "dialog", "aria-label": title },
        h("h2", {}, title), body,
        h("div", { class: "modal-buttons" },
          buttons.map(([label, value, cls]) => h("button", { class: cls || "", on: { click: () => close(typeof value === "function" ? value() : value) } }, label)))));
    document.addEventListener("keydown", onKey, true);
    document.getElementById("overlay-root").append(root);
    const first = root.querySelector("input, textarea, select, button.primary");
    if (first) first.focus();
  });
}

export async function askText(title, label, initial = "") {
  const input = h("input", { type: "text", value: initial, "aria-label": label });
  const body = h("label", { class: "field" }, label, input);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") body.closest(".modal").querySelector("button.primary").click(); });
  const answer = await modal(title, body, [["Cancel", null], ["OK", () => input.value, "primary"]]);
  return answer === null || answer === undefined ? null : answer;
}

export function formatSize(bytes) {
  if (!bytes) return "0 B";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(ms) {
  if (ms === undefined || ms === null || ms < 0) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function statusClass(status, error) {
  if (error || !status) return "s-err";
  return `s-${Math.floor(status / 100)}xx`;
}

export function methodClass(method) {
  return /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/.test(method) ? `m-${method}` : "m-other";
}
