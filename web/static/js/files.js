// The files panel: the space's files (thumbnails, download, delete), kept current by the space's
// file events, and a row per upload with its progress bar and buttons. The bytes themselves are
// sent by the upload engine (uploads.js); this module only shows what it does.
import * as api from "./api.js";
import { h, clear, uid, bytes, timeAgo, skeleton } from "./dom.js";
import * as fields from "./fields.js";
import { icon } from "./icons.js";
import { confirmDialog, toast } from "./ui.js";
import * as uploads from "./uploads.js";

export class FilesPanel {
  constructor(spaceId) {
    this.spaceId = spaceId;
    this.base = `/spaces/${encodeURIComponent(spaceId)}/files`;
    const inputId = uid("upload");
    this.input = h("input.visually-hidden", { id: inputId, type: "file", multiple: true,
      onchange: () => this.uploadAll() });
    this.picker = h("label.button.small", { for: inputId }, "Upload files");
    // Why the hub refused files just chosen (a type it does not accept, say), under the picker.
    this.pickerMessage = fields.messageSlot(this.input);
    this.refused = [];
    this.uploadList = h("ul.upload-list", { "aria-label": "Uploads in progress" });
    this.list = h("ul.file-list", { "aria-label": "Files" });
    this.status = h("div", {}, skeleton(2, "Loading files…"));
    this.el = h("section.panel.files", { "aria-labelledby": "files-title" },
      h("div.panel-head", {}, h("h2", { id: "files-title" }, "Files"), this.input, this.picker),
      this.pickerMessage, this.uploadList, this.status, this.list);
    this.input.addEventListener("focus", () => this.picker.classList.add("focus"));
    this.input.addEventListener("blur", () => this.picker.classList.remove("focus"));
    this.refreshTimer = null;
    this.active = new Set(); // ids of uploads this page is sending
  }

  setEditable(editable) {
    const changed = this.editable !== editable;
    this.editable = editable;
    this.picker.hidden = !editable;
    this.input.disabled = !editable;
    // The list may have been drawn before the role was known: draw it again with (or without) Delete.
    if (changed && this.files) this.draw();
    this.offerResumes();
  }

  draw() {
    clear(this.list, this.files.map((f) => this.item(f)));
    clear(this.status, this.files.length ? null : h("p.empty", {}, "No files yet."));
  }

  /** My interrupted multipart uploads in this space get a row that can resume them. */
  offerResumes() {
    if (!this.editable) return;
    // One check at a time: a join and a reload of the list may ask together.
    this.resumeCheck = (this.resumeCheck || Promise.resolve()).then(async () => {
      try {
        const items = await uploads.unfinished(this.spaceId);
        const offered = new Set([...this.uploadList.querySelectorAll('[data-state="interrupted"]')]
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
      this.files = page.items.filter((f) => f.status === "ready");
      this.offerResumes();
      this.draw();
    } catch (e) {
      clear(this.status, h("p.error-box", { role: "alert" }, api.describe(e)));
    }
  }

  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(), 150);
  }

  item(f) {
    const image = f.content_type.split("/")[0] === "image";
    const thumb = h("div.thumb", {}, icon(image ? "image" : "file", { label: image ? "Image" : "File" }));
    if (f.variants?.thumb) this.thumbnail(f, thumb);
    return h("li.file-item", { dataset: { fileId: f.id } },
      thumb,
      // One line, cut with an ellipsis; the whole name is its tooltip.
      h("div.file-info", {}, h("span.file-name", { title: f.filename }, f.filename),
        h("span.meta", {}, `${bytes(f.size)} · `, timeAgo(f.completed_at || f.created_at))),
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
    this.refused = [];
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
      h("span.file-name", { title: name }, name), ui.progress, ui.label, ui.resume, ui.cancel, ui.dismiss);
    ui.progress.setAttribute("aria-label", `Uploading ${name}`);
    ui.show = (loaded) => {
      ui.progress.value = loaded;
      ui.label.textContent = `${Math.floor((loaded / Math.max(1, size)) * 100)} %`;
    };
    ui.failed = (e) => {
      ui.row.dataset.state = "failed";
      // A refusal of what was declared (its type, name or size) says what was wrong with it, plainly.
      const why = fields.fieldSentences(e).join(" ");
      ui.label.textContent = `Failed: ${why || (e instanceof api.ApiError ? api.describe(e) : e.message)}`;
      ui.label.setAttribute("role", "alert");
    };
    this.uploadList.append(ui.row);
    return ui;
  }

  async upload(file) {
    const ui = this.uploadRow(file.name, file.size);
    let created = null;
    try {
      created = await uploads.create(this.base, file);
    } catch (e) {
      ui.progress.remove();
      ui.failed(e);
      ui.dismiss.hidden = false;
      this.refuse(file.name, e);
      return;
    }
    const fileId = created.file_id;
    if (created.multipart) {
      ui.row.dataset.parts = String(created.multipart.part_count);
      uploads.remember(fileId, file);
      await this.uploadInParts(ui, fileId, file, created.multipart, new Set());
      return;
    }
    this.active.add(fileId);
    try {
      await uploads.sendSingle(created.upload, file, ui.show);
      await this.finish(ui, fileId, file.size);
    } catch (e) {
      ui.progress.remove();
      ui.failed(e);
      ui.dismiss.hidden = false;
      uploads.abort(fileId);
    } finally {
      this.active.delete(fileId);
    }
  }

  /** The picker says which of the files just chosen the hub refused, and why (cleared by the next choice). */
  refuse(name, error) {
    const why = fields.fieldSentences(error);
    if (!why.length) return;
    this.refused.push(`“${name}”: ${why.join(" ")}`);
    fields.setMessage(this.input, this.refused.join(" "));
  }

  async finish(ui, fileId, size) {
    ui.label.textContent = "Finishing…";
    await uploads.complete(fileId);
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
  async uploadInParts(ui, fileId, file, plan, stored) {
    this.active.add(fileId);
    ui.row.dataset.state = "uploading";
    ui.label.removeAttribute("role");
    ui.resume.hidden = ui.cancel.hidden = true;
    ui.resume.onclick = async () => {
      try {
        await this.uploadInParts(ui, fileId, file, plan, (await uploads.resumeState(fileId, file.size)).stored);
      } catch (e) {
        ui.failed(e);
      }
    };
    ui.cancel.onclick = () => {
      uploads.abort(fileId);
      uploads.forget(fileId);
      this.active.delete(fileId);
      ui.row.remove();
    };
    try {
      await uploads.sendParts(fileId, file, plan, ui.show, stored);
      await this.finish(ui, fileId, file.size);
      uploads.forget(fileId);
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
      uploads.abort(f.id);
      uploads.forget(f.id);
      ui.row.remove();
    };
    input.addEventListener("change", async () => {
      const file = input.files[0];
      input.value = "";
      if (!file) return;
      if (!uploads.sameFile(f, file)) {
        ui.label.textContent = `That is not the file being uploaded (${f.filename}, ${bytes(f.size)}).`;
        ui.label.setAttribute("role", "alert");
        return;
      }
      input.remove();
      choose.remove();
      ui.row.append(ui.resume);
      try {
        const { plan, stored } = await uploads.resumeState(f.id, file.size);
        ui.row.dataset.parts = String(plan.part_count);
        await this.uploadInParts(ui, f.id, file, plan, stored);
      } catch (e) {
        ui.failed(e);
        ui.resume.hidden = ui.cancel.hidden = false;
      }
    });
  }

  event(name) {
    if (name === "file_uploaded" || name === "file_processed" || name === "file_deleted") this.refreshSoon();
  }
}
