// Long imports and exports with a progress bar and Cancel: an upload through
// XMLHttpRequest (the only browser API that reports how much of a request body is sent),
// a download read as a stream (bytes received of Content-Length, when the server knows it;
// a streamed export does not). Cancel aborts the request; Ghost sees the client go and
// stops the import or export.
import { ApiError, notifyUnauthorized, request } from "./api.js";
import { formatSize, h } from "./dom.js";

export function progressText(loaded, total) {
  // "1.2 MB of 3.4 MB (35%)", or "1.2 MB" while the whole size is not known.
  if (total > 0) return `${formatSize(loaded)} of ${formatSize(total)} (${Math.min(100, Math.floor((loaded / total) * 100))}%)`;
  return formatSize(loaded);
}

export function fileNameOf(disposition, fallback) {
  // The name in `Content-Disposition: attachment; filename="x.har"`, or the fallback.
  const match = /filename="?([^";]+)"?/.exec(disposition || "");
  return match ? match[1] : fallback;
}

// One transfer shown in the toasts corner: a title, a <progress>, a line of figures, Cancel.
// data-state: running, done, failed or cancelled (tests and screen readers read it).
export class TransferProgress {
  constructor(title) {
    this.abort = new AbortController();
    this.bar = h("progress", { max: 1 });  // no value: indeterminate until a size is known
    this.figures = h("span", { class: "transfer-figures" }, "starting…");
    this.phase = h("span", { class: "transfer-phase" }, "");
    this.cancelButton = h("button", { class: "transfer-cancel", on: { click: () => this.abort.abort() } }, "Cancel");
    this.node = h("div", { class: "toast transfer", role: "status", dataset: { state: "running", updates: "0" } },
      h("div", { class: "transfer-body" }, h("strong", {}, title), this.bar, h("div", {}, this.phase, this.figures)),
      this.cancelButton);
    document.getElementById("toasts").append(this.node);
  }

  get signal() { return this.abort.signal; }

  progress(loaded, total) {
    if (total > 0) { this.bar.max = total; this.bar.value = Math.min(loaded, total); } else this.bar.removeAttribute("value");
    this.figures.textContent = progressText(loaded, total);
    this.node.dataset.updates = String(Number(this.node.dataset.updates) + 1);
  }

  setPhase(text) { this.phase.textContent = text ? `${text} · ` : ""; }

  finish(state, text, { keepMs = 8000 } = {}) {
    this.node.dataset.state = state;
    if (state === "failed") { this.node.remove(); return; }  // the caller's error toast says why
    if (state === "done") { this.bar.max = 1; this.bar.value = 1; }
    this.setPhase("");
    this.figures.textContent = text;
    this.cancelButton.textContent = "Close";
    this.cancelButton.onclick = () => this.node.remove();
    if (keepMs) setTimeout(() => this.node.remove(), keepMs);
  }
}

export function upload(path, body, { onUploadProgress, signal } = {}) {
  // POST `body` (FormData or a Blob) to the API; resolves with its JSON answer.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1${path}`);
    xhr.setRequestHeader("X-Ghost-UI", "1");
    xhr.withCredentials = true;
    xhr.responseType = "text";
    if (onUploadProgress) xhr.upload.onprogress = (e) => onUploadProgress(e.loaded, e.lengthComputable ? e.total : 0);
    const onAbort = () => xhr.abort();
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
    xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
    xhr.onerror = () => reject(new ApiError(0, "the connection to Ghost failed"));
    xhr.onload = () => {
      if (signal) signal.removeEventListener("abort", onAbort);
      let answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 401) notifyUnauthorized();
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(new ApiError(xhr.status, (answer && answer.error) || `${xhr.status} ${xhr.statusText}`));
        return;
      }
      resolve(answer);
    };
    xhr.send(body);
  });
}

export async function download(path, fallbackName, title = `Downloading ${fallbackName}`) {
  // Through fetch (the cookie needs the header), read with a progress bar, then handed to
  // the browser as a file. Resolves with the file's name, or null when cancelled.
  const transfer = new TransferProgress(title);
  try {
    const response = await request("GET", path, { raw: true, signal: transfer.signal });
    const blob = await readWithProgress(response, (loaded, total) => transfer.progress(loaded, total));
    const name = fileNameOf(response.headers.get("Content-Disposition"), fallbackName);
    saveBlob(blob, name);
    transfer.finish("done", `${name}: ${formatSize(blob.size)}`);
    return name;
  } catch (error) {
    if (transfer.signal.aborted) { transfer.finish("cancelled", "cancelled"); return null; }
    transfer.finish("failed", error.message);
    throw error;
  }
}

export async function readWithProgress(response, onProgress) {
  // The body of `response` as a Blob, reporting bytes received (of Content-Length if sent).
  const total = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  onProgress(0, total);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress(loaded, total);
  }
  return new Blob(chunks, { type: response.headers.get("Content-Type") || "application/octet-stream" });
}

export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
