// Text bins: list, create, edit with optimistic concurrency, live updates, raw view, revisions.
//
// Every save sends If-Match with the version we loaded. When someone else saved first the hub
// answers 409 version_conflict with the current version; we keep the user's text and let them
// choose between loading the other version and overwriting it deliberately.
import * as api from "./api.js";
import * as codes from "./codes.js";
import { h, clear, uid, timeAgo, skeleton } from "./dom.js";
import * as fields from "./fields.js";
import { binMaxChars, codePoints } from "./limits.js";
import * as session from "./session.js";
import { confirmDialog, errorBox, toast } from "./ui.js";

const LANGUAGES = ["text", "markdown", "python", "javascript", "typescript", "json", "html", "css", "sql",
  "shell", "go", "rust", "java", "c", "cpp", "yaml"];

// A title of spaces only is empty to the hub (it trims); said here before sending.
const TITLE = { name: "title", required: true, maxlength: 200, pattern: ".*\\S.*",
  dataset: { hint: "A title needs at least one character that is not a space." } };
// From this share of the hub's limit on, the counter warns.
const NEAR_LIMIT = 0.9;
const number = new Intl.NumberFormat();

function languageSelect(id, value = "text") {
  const options = LANGUAGES.includes(value) ? LANGUAGES : [value, ...LANGUAGES];
  return h("select", { id, name: "language" }, options.map((l) => h("option", { value: l, selected: l === value }, l)));
}

export class BinsPanel {
  constructor(spaceId, { presence }) {
    this.spaceId = spaceId;
    this.presence = presence;
    this.base = `/spaces/${encodeURIComponent(spaceId)}/bins`;
    this.open = null; // {id, version, dirty}
    this.editable = true;
    this.list = h("ul.bin-list", { "aria-label": "Bins" });
    this.listStatus = h("div", {}, skeleton(2, "Loading bins…"));
    this.newButton = h("button.small", { type: "button", onclick: () => this.showCreate() }, "New bin");
    this.createHolder = h("div");
    this.editor = h("div.bin-editor", { hidden: true });
    this.el = h("section.panel.bins", { "aria-labelledby": "bins-title" },
      h("div.panel-head", {}, h("h2", { id: "bins-title" }, "Text bins"), this.newButton),
      this.createHolder, this.listStatus, this.list, this.editor);
    this.refreshTimer = null;
  }

  setEditable(editable) {
    this.editable = editable;
    this.newButton.hidden = !editable;
  }

  async load() {
    try {
      const page = await api.get(`${this.base}?limit=100`);
      clear(this.list, page.items.map((b) => this.item(b)));
      clear(this.listStatus, page.items.length ? null : h("p.empty", {}, "No bins yet."));
    } catch (e) {
      clear(this.listStatus, h("p.error-box", { role: "alert" }, api.describe(e)));
    }
  }

  item(b) {
    return h("li", { dataset: { binId: b.id } },
      h("button.bin-link", { type: "button", onclick: () => this.openBin(b.id), "aria-current": this.open?.id === b.id ? "true" : null },
        h("span.bin-title", {}, b.title),
        h("span.meta", {}, `${b.language} · v${b.version} · `, timeAgo(b.updated_at))));
  }

  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(), 150);
  }

  showCreate() {
    const titleId = uid("f");
    const langId = uid("f");
    const error = errorBox();
    const title = h("input", { id: titleId, ...TITLE });
    const form = h("form.card.bin-create", { "aria-label": "New bin", novalidate: true },
      h("div.field", {}, h("label", { for: titleId }, "Title"), title, fields.messageSlot(title)),
      h("div.field", {}, h("label", { for: langId }, "Language"), languageSelect(langId)),
      error,
      h("div.actions", {},
        h("button", { type: "button", onclick: () => clear(this.createHolder) }, "Cancel"),
        h("button.primary", { type: "submit" }, "Create")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.show("");
      if (!fields.checkFields(form)) return;
      const v = Object.fromEntries(new FormData(form).entries());
      try {
        const created = await api.post(this.base, { title: v.title.trim(), content: "", language: v.language });
        clear(this.createHolder);
        this.refreshSoon();
        await this.openBin(created.id);
      } catch (e) {
        fields.showError(form, e, error);
      }
    });
    clear(this.createHolder, form);
    form.querySelector("input").focus();
  }

  // -- editor --------------------------------------------------------------------------------------

  async openBin(id) {
    clear(this.editor, skeleton(4, "Loading bin…"));
    this.editor.hidden = false;
    let bin;
    try {
      bin = await api.get(`${this.base}/${encodeURIComponent(id)}`);
    } catch (e) {
      clear(this.editor, h("p.error-box", { role: "alert" }, api.describe(e)));
      return;
    }
    this.renderEditor(bin);
  }

  renderEditor(bin) {
    const titleId = uid("f");
    const langId = uid("f");
    const contentId = uid("f");
    const countId = uid("f");
    const title = h("input", { id: titleId, value: bin.title, ...TITLE });
    const language = languageSelect(langId, bin.language);
    const content = h("textarea.bin-content", { id: contentId, name: "content", spellcheck: "false", rows: 12,
      "aria-describedby": countId });
    content.value = bin.content;
    // How much of the hub's limit the content takes: a warning near it, an error past it (no saving).
    const count = h("p.bin-count", { id: countId, dataset: { state: "ok" } });
    const countSaid = h("span.visually-hidden", { role: "status" });
    const status = h("p.bin-status", { role: "status" });
    const notice = h("div.conflict", { role: "alert", hidden: true });
    const save = h("button.primary", { type: "submit" }, "Save");
    const revisions = h("details.revisions", {}, h("summary", {}, "Revisions"), h("div.revision-list"));
    const form = h("form.bin-form", { "aria-label": `Bin ${bin.title}`, novalidate: true,
      dataset: { binId: bin.id, version: String(bin.version) } },
      h("div.field", {}, h("label", { for: titleId }, "Title"), title, fields.messageSlot(title)),
      h("div.field", {}, h("label", { for: langId }, "Language"), language),
      h("div.field", {}, h("label", { for: contentId }, "Content"), content, count, countSaid,
        fields.messageSlot(content)),
      notice, status,
      h("div.actions", {},
        save,
        h("button", { type: "button", onclick: () => this.raw(bin.id) }, "Raw"),
        this.editable ? h("button.danger", { type: "button", onclick: () => this.remove(bin) }, "Delete") : null,
        h("button", { type: "button", onclick: () => this.close() }, "Close")),
      revisions);
    const state = {
      id: bin.id, version: bin.version, updatedAt: bin.updated_at, dirty: false, form, title, language, content, status,
      notice,
    };
    this.open = state;
    const setStatus = () => {
      form.dataset.version = String(state.version);
      if (state.dirty) status.textContent = `Unsaved changes (editing version ${state.version})`;
      else clear(status, timeAgo(state.updatedAt, `Version ${state.version} · saved `));
    };
    state.setStatus = setStatus;
    let level = null;
    const recount = () => {
      const n = codePoints(content.value);
      const max = state.maxChars;
      const was = level;
      level = !max ? "ok" : n > max ? "over" : n >= Math.ceil(max * NEAR_LIMIT) ? "near" : "ok";
      count.dataset.state = level;
      const tail = { ok: "", near: ` · ${number.format(max - n)} left`, over: ` · ${number.format(n - max)} over the limit` };
      count.textContent = max ? `${number.format(n)} / ${number.format(max)} characters${tail[level]}`
        : `${number.format(n)} characters`;
      content.setCustomValidity(level === "over"
        ? `A bin holds at most ${number.format(max)} characters: remove ${number.format(n - max)} to save it.` : "");
      fields.syncInvalid(content);
      save.disabled = level === "over";
      // Said once as the level changes, not at every keystroke.
      if (was !== null && was !== level && (level !== "ok" || was === "over")) {
        countSaid.textContent = level === "over" ? `Over the limit of ${number.format(max)} characters; saving is off.`
          : level === "near" ? `Nearly at the limit of ${number.format(max)} characters.` : "Within the limit again.";
      }
    };
    state.recount = recount;
    content.addEventListener("input", recount);
    recount();
    binMaxChars().then((max) => {
      if (this.open !== state || !max) return;
      state.maxChars = max;
      recount();
    }, () => {
      // Without the limit the counter counts; the hub still refuses too long a text, under the field.
    });
    for (const input of [title, language, content]) {
      input.addEventListener("input", () => {
        state.dirty = true;
        setStatus();
      });
      input.disabled = !this.editable;
    }
    save.hidden = !this.editable;
    content.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!fields.checkFields(form)) return;
      this.save(state, state.version);
    });
    revisions.addEventListener("toggle", () => {
      if (revisions.open) this.loadRevisions(state, revisions.lastChild);
    });
    setStatus();
    clear(this.editor, h("h3.visually-hidden", {}, "Edit bin"), form);
    for (const li of this.list.children) {
      li.firstChild?.setAttribute("aria-current", String(li.dataset.binId === bin.id));
    }
  }

  async save(state, ifVersion) {
    state.notice.hidden = true;
    state.saving = true;
    const body = { title: state.title.value.trim(), content: state.content.value, language: state.language.value };
    try {
      const { data } = await api.request("PATCH", `${this.base}/${encodeURIComponent(state.id)}`, {
        body, headers: { "If-Match": `"v${ifVersion}"` },
      });
      if (this.open !== state) return;
      state.version = data.version;
      state.updatedAt = data.updated_at;
      state.dirty = false;
      state.setStatus();
      toast("Saved.");
      this.refreshSoon();
    } catch (e) {
      if (this.open !== state) return;
      if (e instanceof api.ApiError && e.code === codes.VERSION_CONFLICT) {
        this.conflict(state, e.details.current_version);
      } else {
        fields.showError(state.form, e, {
          show: (message) => (message ? this.showNotice(state, message) : undefined),
        });
      }
    } finally {
      state.saving = false;
    }
  }

  showNotice(state, message, ...actions) {
    clear(state.notice, h("p", {}, message), actions.length ? h("div.actions", {}, actions) : null);
    state.notice.hidden = false;
  }

  conflict(state, current) {
    this.showNotice(state,
      `Someone else saved this bin while you were editing (it is now at version ${current ?? "?"}). `
      + "Your text has not been saved and is still here.",
      h("button", { type: "button", onclick: () => this.reload(state) }, "Load their version"),
      h("button.danger", { type: "button", onclick: () => this.save(state, current) }, "Overwrite with mine"));
  }

  async reload(state) {
    try {
      const bin = await api.get(`${this.base}/${encodeURIComponent(state.id)}`);
      if (this.open === state) this.renderEditor(bin);
    } catch (e) {
      this.showNotice(state, api.describe(e));
    }
  }

  async raw(id) {
    // The raw endpoint needs the bearer token, so fetch it and show it as a plain-text blob.
    const win = window.open("", "_blank");
    try {
      const text = await api.get(`${this.base}/${encodeURIComponent(id)}/raw`);
      const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
      if (win) win.location.href = url;
      else window.location.assign(url);
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      win?.close();
      toast(api.describe(e), "error");
    }
  }

  async loadRevisions(state, holder) {
    clear(holder, skeleton(2, "Loading revisions…"));
    try {
      const page = await api.get(`${this.base}/${encodeURIComponent(state.id)}/revisions?limit=50`);
      clear(holder, h("ol.revision-items", {}, page.items.map((r) => h("li", {},
        h("span", {}, `v${r.version} · `, timeAgo(r.created_at)),
        r.author_id ? h("span.muted", {}, ` by ${this.who(r.author_id)}`) : null,
        h("button.small", { type: "button", onclick: () => this.showRevision(state, r) }, "View")))));
    } catch (e) {
      clear(holder, h("p.error-box", { role: "alert" }, api.describe(e)));
    }
  }

  showRevision(state, r) {
    const dialog = h("dialog.dialog.revision-dialog", { "aria-label": `Revision ${r.version}` },
      h("h3", {}, `${r.title} — version ${r.version}`),
      h("pre.revision-content", { tabindex: "0" }, r.content),
      h("form", { method: "dialog" }, h("div.actions", {},
        this.editable ? h("button", { type: "button", onclick: () => {
          state.content.value = r.content;
          state.title.value = r.title;
          state.recount();
          state.dirty = true;
          state.setStatus();
          dialog.close();
        } }, "Copy into the editor") : null,
        h("button.primary", { type: "submit" }, "Close"))));
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  async remove(bin) {
    if (!(await confirmDialog(`Delete the bin “${bin.title}”?`, { confirmLabel: "Delete", danger: true }))) return;
    try {
      await api.del(`${this.base}/${encodeURIComponent(bin.id)}`);
      this.close();
      this.refreshSoon();
    } catch (e) {
      toast(api.describe(e), "error");
    }
  }

  close() {
    this.open = null;
    this.editor.hidden = true;
    clear(this.editor);
  }

  who(userId) {
    if (userId === session.user()?.id) return "you";
    return this.presence.name(userId) || "someone";
  }

  // -- live updates --------------------------------------------------------------------------------

  event(name, payload) {
    if (!name.startsWith("bin_")) return;
    this.refreshSoon();
    const state = this.open;
    if (!state || payload.bin_id !== state.id) return;
    if (name === "bin_deleted") {
      this.close();
      toast("The bin you had open was deleted.");
      return;
    }
    if (name !== "bin_updated" || payload.version <= state.version) return;
    // Our own save's echo (it may overtake the PATCH response).
    if (state.saving && payload.by === session.user()?.id) return;
    if (!state.dirty) {
      // Nothing local to lose: follow the other editor live.
      this.reload(state).then(() => toast(`${this.who(payload.by)} updated “${payload.title}”.`));
    } else {
      this.showNotice(state,
        `${this.who(payload.by)} saved version ${payload.version} while you were editing. Saving now would conflict.`,
        h("button", { type: "button", onclick: () => this.reload(state) }, "Load their version"));
    }
  }
}
