// Ghost's content script: describes what the user does (click, input, change, submit,
// navigation) and hands it to the service worker, which tags the requests that follow.
// Listeners run in the capture phase on the window, before the page's own handlers, so
// the interaction is reported before the request the page's handler sends.
(() => {
  if (window.__ghostContentScript) return;
  window.__ghostContentScript = true;

  const TEST_ID_ATTRS = ["data-testid", "data-test-id", "data-test", "data-cy", "data-id"];
  // What a click "means" when it lands on something inside it (an icon in a button).
  // Only interactive roles: a click on text inside role="dialog" is not a click on the dialog.
  const INTERACTIVE = [
    "button", "a[href]", "input", "select", "textarea", "label", "summary", "option",
    "[onclick]", "[tabindex]:not([tabindex='-1'])", "[contenteditable='true']",
    ...["button", "link", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "checkbox", "radio",
      "option", "switch", "treeitem", "combobox"].map((role) => `[role='${role}']`),
  ].join(", ");
  const INPUT_DEBOUNCE_MS = 400;
  const MAX_TEXT = 500;
  const isTop = window === window.top;

  function report(data) {
    try {
      chrome.runtime.sendMessage({ kind: "ghost.interaction", data }).catch(() => {});
    } catch (e) {
      // The extension was reloaded: this page keeps an orphaned script until it reloads.
    }
  }

  // Whitespace collapsed within lines; line breaks kept, because a text spanning several
  // lines tells an exporter the element is a container of other elements.
  function squash(text) {
    return (text || "")
      .split("\n")
      .map((line) => line.replace(/\s+/g, " ").trim())
      .filter(Boolean)
      .join("\n")
      .slice(0, MAX_TEXT);
  }

  function quote(value) {
    return `"${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  }

  function testIdOf(el) {
    for (const attr of TEST_ID_ATTRS) {
      const value = el.getAttribute && el.getAttribute(attr);
      if (value) return { attr, value };
    }
    return null;
  }

  function unique(selector) {
    try {
      return document.querySelectorAll(selector).length === 1;
    } catch (e) {
      return false;
    }
  }

  // A stable CSS selector: test id, id, name, else a short path anchored on the nearest
  // ancestor with a test id or id.
  function selectorFor(el) {
    const tag = el.tagName.toLowerCase();
    const testId = testIdOf(el);
    if (testId) return `${tag}[${testId.attr}=${quote(testId.value)}]`;
    if (el.id && unique(`#${CSS.escape(el.id)}`)) return `#${CSS.escape(el.id)}`;
    const name = el.getAttribute("name");
    if (name && unique(`${tag}[name=${quote(name)}]`)) return `${tag}[name=${quote(name)}]`;
    const parts = [];
    let node = el;
    for (let depth = 0; node && node.nodeType === 1 && depth < 6; depth += 1) {
      const nodeTag = node.tagName.toLowerCase();
      const anchorId = testIdOf(node);
      if (node !== el && anchorId) {
        parts.unshift(`${nodeTag}[${anchorId.attr}=${quote(anchorId.value)}]`);
        break;
      }
      if (node !== el && node.id && unique(`#${CSS.escape(node.id)}`)) {
        parts.unshift(`#${CSS.escape(node.id)}`);
        break;
      }
      if (nodeTag === "html" || nodeTag === "body") {
        parts.unshift(nodeTag);
        break;
      }
      let part = nodeTag;
      const parent = node.parentElement;
      if (parent) {
        const same = Array.from(parent.children).filter((c) => c.tagName === node.tagName);
        if (same.length > 1) part += `:nth-of-type(${same.indexOf(node) + 1})`;
      }
      parts.unshift(part);
      node = parent;
    }
    return parts.join(" > ");
  }

  function isFormField(el) {
    return el.matches("input, textarea, select");
  }

  function implicitRole(el) {
    const tag = el.tagName.toLowerCase();
    if (tag === "button") return "button";
    if (tag === "a" && el.hasAttribute("href")) return "link";
    if (tag === "input" && ["submit", "button", "reset"].includes((el.getAttribute("type") || "").toLowerCase())) {
      return "button";
    }
    return "";
  }

  function attributesOf(el) {
    const testId = testIdOf(el);
    const out = {
      id: el.id || "",
      name: el.getAttribute("name") || "",
      role: el.getAttribute("role") || implicitRole(el),
      aria_label: el.getAttribute("aria-label") || "",
      placeholder: el.getAttribute("placeholder") || "",
      type: el.getAttribute("type") || "",
      href: el.getAttribute("href") || "",
      title: el.getAttribute("title") || "",
      test_id: testId ? testId.value : "",
      test_id_attr: testId ? testId.attr : "",
      visible_text: isFormField(el) ? "" : squash(el.innerText || el.textContent),
      tag: el.tagName.toLowerCase(),
    };
    if (isButtonInput(el)) out.visible_text = squash(el.value);
    return Object.fromEntries(Object.entries(out).filter(([, v]) => v));
  }

  function fieldValue(el) {
    if (el.tagName === "SELECT") {
      const option = el.selectedOptions && el.selectedOptions[0];
      return option ? squash(option.textContent) || el.value : el.value;
    }
    if (el.type === "checkbox" || el.type === "radio") return el.checked ? "checked" : "unchecked";
    if (el.isContentEditable) return squash(el.innerText);
    return typeof el.value === "string" ? el.value.slice(0, MAX_TEXT) : "";
  }

  function isButtonInput(el) {
    return el.tagName === "INPUT" && ["submit", "button", "reset"].includes((el.type || "").toLowerCase());
  }

  // For inputs: the typed value. For clicks: the element's visible text (a click into a
  // field has none). A submitted form's text is not worth repeating.
  function textOf(type, el) {
    if (isButtonInput(el)) return squash(el.value);
    const formField = isFormField(el) || el.isContentEditable;
    if (type === "submit") return "";
    if (type === "click") return formField ? "" : squash(el.innerText || el.textContent);
    return formField ? fieldValue(el) : squash(el.innerText || el.textContent);
  }

  function describe(type, el) {
    return {
      type,
      selector: selectorFor(el),
      element_type: el.tagName.toLowerCase(),
      element_text: textOf(type, el),
      page_url: location.href,
      page_title: document.title,
      attributes: attributesOf(el),
      timestamp: Date.now(),
    };
  }

  function targetOf(event) {
    const path = event.composedPath ? event.composedPath() : [];
    const first = path.find((n) => n && n.nodeType === 1) || event.target;
    if (!first || first.nodeType !== 1) return null;
    return first;
  }

  // One interaction per field edit. Typing into a text field becomes one `input`
  // interaction with the final value (reported 400 ms after the last key, or at once when
  // the field's `change` fires on blur: that change is not reported again). A choice
  // (select, checkbox, radio, file, range, date...) becomes one `change`: browsers fire
  // `input` for those too, which is not reported.
  const TEXT_INPUT_TYPES = new Set(["", "text", "email", "password", "search", "tel", "url", "number"]);
  const pendingInputs = new Map();

  function isTextEntry(el) {
    if (el.isContentEditable || el.tagName === "TEXTAREA") return true;
    if (el.tagName !== "INPUT") return false;
    return TEXT_INPUT_TYPES.has((el.getAttribute("type") || "").toLowerCase());
  }

  function flushInput(el) {
    const pending = pendingInputs.get(el);
    if (!pending) return;
    clearTimeout(pending.timer);
    pendingInputs.delete(el);
    report(pending.data);
  }

  function flushInputs() {
    for (const el of [...pendingInputs.keys()]) flushInput(el);
  }

  window.addEventListener("input", (event) => {
    const el = targetOf(event);
    if (!el || !isTextEntry(el)) return;
    const previous = pendingInputs.get(el);
    if (previous) clearTimeout(previous.timer);
    const data = describe("input", el);
    const timer = setTimeout(() => {
      pendingInputs.delete(el);
      report(data);
    }, INPUT_DEBOUNCE_MS);
    pendingInputs.set(el, { data, timer });
  }, true);

  window.addEventListener("change", (event) => {
    const el = targetOf(event);
    if (!el) return;
    if (isTextEntry(el)) {
      flushInput(el);  // the typed value, once: its `input` interaction
      return;
    }
    flushInputs();
    report(describe("change", el));
  }, true);

  // The last click, so a submit it caused is not reported twice.
  let lastClick = null;

  window.addEventListener("click", (event) => {
    const raw = targetOf(event);
    if (!raw) return;
    const el = raw.closest(INTERACTIVE) || raw;
    lastClick = { el, raw, at: performance.now() };
    flushInputs();
    report(describe("click", el));
  }, true);

  // A click on a submit button (or Enter in a field, which browsers turn into a click on
  // the form's default button) submits the form in the same breath: the click tells that
  // story, and its id is the one the requests should carry. Only a submit nobody clicked
  // for (form.requestSubmit(), a form without a button) is reported as `submit`.
  function causedByClick(event) {
    const submitter = event.submitter;
    return Boolean(
      submitter && lastClick && performance.now() - lastClick.at < 1000 &&
        (lastClick.el === submitter || submitter.contains(lastClick.raw)),
    );
  }

  window.addEventListener("submit", (event) => {
    const form = targetOf(event);
    if (!form || causedByClick(event)) return;
    flushInputs();
    report(describe("submit", form));
  }, true);

  // Navigations of the top frame: the page load itself and same-document URL changes.
  let lastUrl = "";
  function navigated() {
    if (!isTop || location.href === lastUrl) return;
    lastUrl = location.href;
    report({
      type: "navigation",
      selector: "",
      element_type: "",
      element_text: "",
      page_url: location.href,
      page_title: document.title,
      attributes: {},
      timestamp: Date.now(),
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", navigated, { once: true });
  } else {
    navigated();
  }
  if (window.navigation && typeof window.navigation.addEventListener === "function") {
    window.navigation.addEventListener("navigatesuccess", navigated);
  }
  window.addEventListener("popstate", navigated);
  window.addEventListener("hashchange", navigated);
  window.addEventListener("pagehide", flushInputs);
})();
