// Files: uploads go straight from the browser to the blob store's presigned URL (the hub never
// proxies the bytes), with a progress bar; big files go up in parts. Then list, thumbnails,
// download and delete, kept current by the space's file events.
import * as api from "./api.js";
import { h, clear, uid, bytes, fromNow, skeleton } from "./dom.js";
import { confirmDialog, toast } from "./ui.js";

const PART_BATCH = 8; // part URLs requested per round trip
const PARALLEL_PARTS = 3;
const PART_ATTEMPTS = 4; // per part, before the upload stops and offers "Resume"
const PART_RETRY_MS = 500; // first retry delay, doubled each time, with jitter

// What identifies the bytes of an interrupted upload when the same file is chosen again after a
// reload: the name and size the hub knows, plus the modification time this browser saw.
const remember = (fileId, file) => {
  try {
    localStorage.setItem(`hub.upload.${fileId}`, JSON.stringify({ modified: file.lastModified }));
  } catch {
    // Private mode or a full storage: resuming then checks name and size only.
  }
};
const forget = (fileId) => localStorage.removeItem(`hub.upload.${fileId}`);
function sameFile(record, file) {
  if (file.size !== record.size || file.name !== record.filename) return false;
  try {
    const seen = JSON.parse(localStorage.getItem(`hub.upload.${record.id}`) || "null");
    return !seen || seen.modified === file.lastModified;
  } catch {
    return true;
  }
}

/** Part numbers the store already holds in full, from GET /files/{id}/parts. */
async function storedParts(fileId, fileSize) {
  return storedParts.from(await api.get(`/files/${fileId}/parts`), fileSize);
}
storedParts.from = (listed, fileSize) => {
  const size = listed.part_size;
  const expected = (n) => Math.min(size, fileSize - (n - 1) * size);
  return new Set(listed.parts.filter((p) => p.size === expected(p.part_number)).map((p) => p.part_number));
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Worth another try: no answer at all (status 0), an expired or refused signature, a busy store.
const retryable = (status) => status === 0 || status === 403 || status === 408 || status === 429 || status >= 500;

/** One XHR (fetch has no upload progress). Resolves with the response's ETag header. */
function send(method, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(null);
        resolve(xhr.getResponseHeader("ETag"));
      } else {
        let message = `The upload failed (${xhr.status}).`;
        try {
          message = JSON.parse(xhr.responseText).error.message || message;
        } catch {
          // S3 answers XML; the status is the useful part.
        }
        reject(Object.assign(new Error(message), { status: xhr.status }));
      }
    });
    xhr.addEventListener("error", () => reject(Object.assign(new Error("The upload was interrupted."), { status: 0 })));
    xhr.addEventListener("abort", () => reject(Object.assign(new Error("The upload was cancelled."), { status: -1 })));
    xhr.send(body);
  });
}

export class FilesPanel {
  constructor(spaceId) {
    this.spaceId = spaceId;
    this.base = `/spaces/${encodeURIComponent(spaceId)}/files`;
    this.thumbs = new Map(); // file id -> object URL of a fetched thumbnail URL
    const inputId = uid("upload");
    this.input = h("input.visually-hidden", { id: inputId, type: "file", multiple: true,
      onchange: () => this.uploadAll() });
    this.picker = h("label.button.small", { for: inputId }, "Upload files");
    this.uploads = h("ul.upload-list", { "aria-label": "Uploads in progress" });
    this.list = h("ul.file-list", { "aria-label": "Files" });
    this.status = h("div", {}, skeleton(2, "Loading files…"));
    this.el = h("section.panel.files", { "aria-labelledby": "files-title" },
      h("div.panel-head", {}, h("h2", { id: "files-title" }, "Files"), this.input, this.picker),
      this.uploads, this.status, this.list);
    this.input.addEventListener("focus", () => this.picker.classList.add("focus"));
    this.input.addEventListener("blur", () => this.picker.classList.remove("focus"));
    this.refreshTimer = null;
    this.active = new Set(); // ids of uploads this page is sending
  }

  setEditable(editable) {
    this.editable = editable;
    this.picker.hidden = !editable;
    this.input.disabled = !editable;
    this.offerResumes();
  }

  /** My interrupted multipart uploads in this space get a row that can resume them. */
  offerResumes() {
    if (!this.editable) return;
    // One check at a time: a join and a reload of the list may ask together.
    this.resumeCheck = (this.resumeCheck || Promise.resolve()).then(async () => {
      try {
        const { items } = await api.get(`/spaces/${encodeURIComponent(this.spaceId)}/uploads?limit=100`);
        const offered = new Set([...this.uploads.querySelectorAll('[data-state="interrupted"]')]
          .map((row) => row.dataset.fileId));
        for (const f of items) {
          if (f.multipart && !this.active.has(f.id) && !offered.has(f.id)) this.offerResume(f);
        }
      } catch {
        // Resuming is a convenience; the panel works without it.
      }
    });
  }

  async load() {
    try {
      const page = await api.get(`${this.base}?limit=100`);
      const ready = page.items.filter((f) => f.status === "ready");
      this.offerResumes();
      clear(this.list, ready.map((f) => this.item(f)));
      clear(this.status, ready.length ? null : h("p.empty", {}, "No files yet."));
    } catch (e) {
      clear(this.status, h("p.error-box", { role: "alert" }, api.describe(e)));
    }
  }

  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(), 150);
  }

  item(f) {
    const thumb = h("div.thumb", { "aria-hidden": "true" }, f.content_type.split("/")[0] === "image" ? "🖼" : "📄");
    if (f.variants?.thumb) this.thumbnail(f, thumb);
    return h("li.file-item", { dataset: { fileId: f.id } },
      thumb,
      h("div.file-info", {}, h("span.file-name", {}, f.filename),
        h("span.meta", {}, `${bytes(f.size)} · ${fromNow(f.completed_at || f.created_at)}`)),
      h("div.actions", {},
        h("button.small", { type: "button", "aria-label": `Download ${f.filename}`, onclick: () => this.download(f) },
          "Download"),
        this.editable ? h("button.small.danger", { type: "button", "aria-label": `Delete ${f.filename}`,
          onclick: () => this.remove(f) }, "Delete") : null));
  }

  async thumbnail(f, holder) {
    try {
      const { url } = await api.get(`/files/${f.id}/download?variant=thumb&redirect=false`);
      // Swapped in only once loaded (a lazy image outside the document would never load).
      const img = h("img", { alt: "", width: 48, height: 48 });
      img.addEventListener("load", () => clear(holder, img));
      img.src = url;
    } catch {
      // The icon stays; a missing thumbnail is cosmetic.
    }
  }

  async download(f) {
    try {
      // Downloads need the bearer token, so ask for the signed URL and let the browser fetch it.
      const { url } = await api.get(`/files/${f.id}/download?attachment=true&redirect=false`);
      const a = h("a", { href: url, download: f.filename, rel: "noopener" });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      toast(api.describe(e), "error");
    }
  }

  async remove(f) {
    if (!(await confirmDialog(`Delete “${f.filename}”?`, { confirmLabel: "Delete", danger: true }))) return;
    try {
      await api.del(`/files/${f.id}`);
      this.list.querySelector(`[data-file-id="${CSS.escape(f.id)}"]`)?.remove();
      this.refreshSoon();
    } catch (e) {
      toast(api.describe(e), "error");
    }
  }

  // -- uploads -------------------------------------------------------------------------------------

  uploadAll() {
    const files = [...this.input.files];
    this.input.value = "";
    for (const file of files) this.upload(file);
  }

  /** A row in the uploads list with its progress bar, status line and buttons. */
  uploadRow(name, size) {
    const ui = {
      progress: h("progress", { max: String(Math.max(1, size)), value: "0" }),
      label: h("span.upload-status", {}, "Starting…"),
      resume: h("button.small", { type: "button", "aria-label": `Resume ${name}`, hidden: true }, "Resume"),
      cancel: h("button.small", { type: "button", "aria-label": `Cancel ${name}`, hidden: true }, "Cancel"),
      dismiss: h("button.small", { type: "button", "aria-label": `Dismiss ${name}`, hidden: true,
        onclick: () => ui.row.remove() }, "Dismiss"),
    };
    ui.row = h("li.upload", { dataset: { filename: name, state: "uploading" } },
      h("span.file-name", {}, name), ui.progress, ui.label, ui.resume, ui.cancel, ui.dismiss);
    ui.progress.setAttribute("aria-label", `Uploading ${name}`);
    ui.show = (loaded) => {
      ui.progress.value = loaded;
      ui.label.textContent = `${Math.floor((loaded / Math.max(1, size)) * 100)} %`;
    };
    ui.failed = (e) => {
      ui.row.dataset.state = "failed";
      ui.label.textContent = `Failed: ${e instanceof api.ApiError ? api.describe(e) : e.message}`;
      ui.label.setAttribute("role", "alert");
    };
    this.uploads.append(ui.row);
    return ui;
  }

  async upload(file) {
    const ui = this.uploadRow(file.name, file.size);
    let created = null;
    try {
      created = await api.post(this.base, {
        filename: file.name, size: file.size, content_type: file.type || "application/octet-stream",
      });
    } catch (e) {
      ui.progress.remove();
      ui.failed(e);
      ui.dismiss.hidden = false;
      return;
    }
    const fileId = created.file_id;
    if (created.multipart) {
      ui.row.dataset.parts = String(created.multipart.part_count);
      remember(fileId, file);
      await this.sendParts(ui, fileId, file, created.multipart, new Set());
      return;
    }
    this.active.add(fileId);
    try {
      await this.uploadSingle(created.upload, file, ui.show);
      await this.finish(ui, fileId, file.size);
    } catch (e) {
      ui.progress.remove();
      ui.failed(e);
      ui.dismiss.hidden = false;
      api.post(`/files/${fileId}/abort`).catch(() => {});
    } finally {
      this.active.delete(fileId);
    }
  }

  async finish(ui, fileId, size) {
    ui.label.textContent = "Finishing…";
    await api.post(`/files/${fileId}/complete`);
    ui.show(size);
    ui.label.textContent = "Uploaded";
    ui.label.removeAttribute("role");
    ui.row.dataset.state = "done";
    ui.resume.hidden = ui.cancel.hidden = true;
    ui.dismiss.hidden = false;
    // Finished rows fade out on their own; the file itself is in the list below by now.
    setTimeout(() => ui.row.remove(), 10_000);
    this.refreshSoon();
  }

  /**
   * A multipart upload, from the parts not in `stored` on. Parts that went up are kept: after a
   * failure, "Resume" asks the hub which parts the store has and sends only the others; "Cancel"
   * aborts the upload and frees its parts.
   */
  async sendParts(ui, fileId, file, plan, stored) {
    this.active.add(fileId);
    ui.row.dataset.state = "uploading";
    ui.label.removeAttribute("role");
    ui.resume.hidden = ui.cancel.hidden = true;
    ui.resume.onclick = async () => {
      try {
        await this.sendParts(ui, fileId, file, plan, await storedParts(fileId, file.size));
      } catch (e) {
        ui.failed(e);
      }
    };
    ui.cancel.onclick = () => {
      api.post(`/files/${fileId}/abort`).catch(() => {});
      forget(fileId);
      this.active.delete(fileId);
      ui.row.remove();
    };
    try {
      await this.uploadParts(fileId, file, plan, ui.show, stored);
      await this.finish(ui, fileId, file.size);
      forget(fileId);
      this.active.delete(fileId);
    } catch (e) {
      ui.failed(e);
      ui.resume.hidden = ui.cancel.hidden = false;
    }
  }

  /**
   * After a reload (or a crash) the bytes are gone from the page, but the parts already in the
   * store are not: an interrupted upload of mine asks for the same file again, then resumes.
   */
  offerResume(f) {
    const ui = this.uploadRow(f.filename, f.size);
    ui.row.dataset.state = "interrupted";
    ui.row.dataset.fileId = f.id;
    ui.label.textContent = "Interrupted: choose the same file to resume.";
    const inputId = uid("resume");
    const input = h("input.visually-hidden", { id: inputId, type: "file" });
    const choose = h("label.button.small", { for: inputId }, "Choose file…");
    input.setAttribute("aria-label", `Resume ${f.filename}`);
    ui.resume.replaceWith(input, choose);
    ui.cancel.hidden = false;
    ui.cancel.onclick = () => {
      api.post(`/files/${f.id}/abort`).catch(() => {});
      forget(f.id);
      ui.row.remove();
    };
    input.addEventListener("change", async () => {
      const file = input.files[0];
      input.value = "";
      if (!file) return;
      if (!sameFile(f, file)) {
        ui.label.textContent = `That is not the file being uploaded (${f.filename}, ${bytes(f.size)}).`;
        ui.label.setAttribute("role", "alert");
        return;
      }
      input.remove();
      choose.remove();
      ui.row.append(ui.resume);
      try {
        const listed = await api.get(`/files/${f.id}/parts`);
        const plan = { part_size: listed.part_size, part_count: listed.part_count };
        ui.row.dataset.parts = String(plan.part_count);
        await this.sendParts(ui, f.id, file, plan, storedParts.from(listed, file.size));
      } catch (e) {
        ui.failed(e);
        ui.resume.hidden = ui.cancel.hidden = false;
      }
    });
  }

  async uploadSingle(upload, file, show) {
    if (upload.method === "POST") {
      // Presigned POST: policy fields first, the file last (S3 ignores fields after it).
      const form = new FormData();
      for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
      form.append("file", file);
      await send("POST", upload.url, form, {}, (n) => show(n === null ? file.size : Math.min(n, file.size)));
    } else {
      await send("PUT", upload.url, file, upload.headers, (n) => show(n === null ? file.size : n));
    }
  }

  /** Sends every part not in `stored` (part numbers already in the store), a few at a time. */
  async uploadParts(fileId, file, plan, show, stored) {
    const { part_size: size, part_count: count } = plan;
    const done = new Array(count + 1).fill(0);
    const todo = [];
    for (let n = 1; n <= count; n += 1) {
      if (stored.has(n)) done[n] = Math.min(size, file.size - (n - 1) * size);
      else todo.push(n);
    }
    const report = () => show(done.reduce((a, b) => a + b, 0));
    report();
    for (let first = 0; first < todo.length; first += PART_BATCH) {
      const numbers = todo.slice(first, first + PART_BATCH);
      const { parts } = await api.post(`/files/${fileId}/parts`, { part_numbers: numbers });
      const queue = [...parts];
      const worker = async () => {
        for (let part = queue.shift(); part; part = queue.shift()) {
          await this.sendPart(fileId, file, size, part, (n) => {
            done[part.part_number] = n;
            report();
          });
        }
      };
      await Promise.all(Array.from({ length: PARALLEL_PARTS }, worker));
    }
  }

  /** One part, retried with backoff and a freshly signed URL when the network or the store hiccups. */
  async sendPart(fileId, file, size, part, progressed) {
    const start = (part.part_number - 1) * size;
    const blob = file.slice(start, Math.min(file.size, start + size));
    for (let attempt = 1; ; attempt += 1) {
      try {
        await send("PUT", part.url, blob, part.headers, (n) => progressed(n === null ? blob.size : n));
        return;
      } catch (e) {
        progressed(0);
        if (attempt >= PART_ATTEMPTS || !retryable(e.status)) throw e;
        await sleep(PART_RETRY_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
        // The old URL may have expired while we waited.
        [part] = (await api.post(`/files/${fileId}/parts`, { part_numbers: [part.part_number] })).parts;
      }
    }
  }

  event(name) {
    if (name === "file_uploaded" || name === "file_processed" || name === "file_deleted") this.refreshSoon();
  }
}
