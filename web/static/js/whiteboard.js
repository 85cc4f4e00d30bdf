// The whiteboard panel: its toolbar, the canvas (canvas.js), the history bar (board-history.js), and
// the board's realtime state kept in sync with the hub.
//
// Optimistic drawing: a finished stroke (or text, or note) is drawn at once (pending) and sent with an
// ack. An ok ack confirms it with its seq; an error ack removes it and says why. A stroke whose ack
// never came (we went offline) stays pending and is resent with the same id after the next join — the
// hub deduplicates by id, so a stroke that did land is acknowledged again, never drawn twice.
//
// Undo and redo are per person and client-side (docs: "How a client builds per-user undo/redo"): every
// change of mine that the hub acknowledged goes on a stack; undoing a draw, an erase, a clear or a
// restore is a `restore` of those elements to just before it, undoing a move is the inverse move. Each
// step is a new change (new id, own seq), so the others see it like any other.
//
// Edits (a text's new words, a recolour, a paste or a duplicate: board-edit.js) are new elements in
// place of old ones, sent as strokes and an erase once those landed, and undone as one step.
import * as api from "./api.js";
import { BoardCanvas } from "./canvas.js";
import { BoardEdits, decode } from "./board-edit.js";
import * as geo from "./board-geometry.js";
import { HistoryBar } from "./board-history.js";
import { icon } from "./board-icons.js";
import * as codes from "./codes.js";
import { h, uid } from "./dom.js";
import { OfflineError } from "./realtime.js";
import * as session from "./session.js";
import { confirmDialog, toast } from "./ui.js";

const COLORS = [
  ["Black", "#1f2937"], ["Red", "#dc2626"], ["Orange", "#ea580c"], ["Green", "#16a34a"], ["Blue", "#2563eb"],
  ["Purple", "#9333ea"],
];
// A sticky note is a light tint of the chosen colour, so its text stays readable (a custom colour is
// used as it is; the note's text turns white on a dark fill).
const NOTE_FILLS = {
  "#1f2937": "#fef08a", "#dc2626": "#fecaca", "#ea580c": "#fed7aa", "#16a34a": "#bbf7d0", "#2563eb": "#bfdbfe",
  "#9333ea": "#e9d5ff",
};
// [label, line width, font size of text and notes]
const SIZES = [["Fine", 2, 16], ["Medium", 4, 24], ["Thick", 8, 36], ["Huge", 16, 56]];
const TOOLS = [
  ["select", "Select", "Select (V): click, Shift+click to add; drag on empty space to box-select; drag the selection to move it, its corner handle to resize; Delete erases; double-click a text or note (or Enter) to edit it; a colour recolours the selection; Ctrl/⌘+D duplicates, Ctrl/⌘+C, X, V copy, cut and paste"],
  ["hand", "Hand", "Hand (H): drag to pan. With any tool: the wheel pans (Shift+wheel sideways), Space+drag or the middle button pan, Ctrl/⌘+wheel or a pinch zooms"],
  ["pen", "Pen", "Pen (P)"],
  ["highlighter", "Highlighter", "Highlighter (M)"],
  ["line", "Line", "Line (L): drag; Shift keeps 45° steps"],
  ["rect", "Rectangle", "Rectangle (R): drag; Shift for a square"],
  ["ellipse", "Ellipse", "Ellipse (O): drag; Shift for a circle"],
  ["arrow", "Arrow", "Arrow (A): drag from tail to head"],
  ["text", "Text", "Text (T): click, type, Enter to place (Shift+Enter: new line; Escape: cancel)"],
  ["note", "Sticky note", "Sticky note (N): click, or drag out its box; type, Enter to place"],
  ["eraser", "Eraser", "Eraser (E): drag across what to erase"],
];
const CURSOR_INTERVAL = 50;
const MAX_IDS = 1000; // per erase, transform or restore (the hub's limit)
const UNDO_DEPTH = 200;
const MEMORY = 5000; // change ids applied, and elements taken off the board, remembered

function chunks(ids) {
  const out = [];
  for (let i = 0; i < ids.length; i += MAX_IDS) out.push(ids.slice(i, i + MAX_IDS));
  return out;
}

/** Add to a bounded Map / Set, forgetting the oldest entries first. */
function remember(store, key, value) {
  if (store instanceof Map) {
    store.delete(key);
    store.set(key, value);
  } else {
    store.add(key);
  }
  if (store.size > MEMORY) store.delete(store.keys().next().value);
}

export class Whiteboard {
  constructor({ realtime, presence }) {
    this.rt = realtime;
    this.presence = presence;
    this.inflight = new Set(); // ids of strokes sent and not acknowledged
    this.calls = new Set(); // other sequenced calls awaiting their ack
    this.lastCursor = 0;
    this.seq = 0; // the board's latest change as far as we know
    this.epoch = null;
    this.applied = new Set(); // ids of the transforms and restores already applied here
    this.graveyard = new Map(); // id -> the element as it was when it left the board (undo brings it back)
    this.touched = new Map(); // id -> seq of the latest change to it we applied
    this.dirty = new Map(); // id -> optimistic changes to it still waiting for their ack
    this.replacing = new Set(); // ids of an edit's new elements, sent by `replace` and by nothing else
    this.undoStack = [];
    this.redoStack = [];
    this.editable = false;
    this.viewing = null;
    this.board = new BoardCanvas({
      onStroke: (stroke) => this.send(stroke),
      onErase: (ids) => this.erase(ids),
      onReplace: (pairs) => this.replace(pairs, { select: true }),
      onCursor: (x, y) => this.cursor(x, y),
      onTransform: (ids, t) => this.move(ids, t),
      onCamera: (camera) => this.showZoom(camera),
      onToolKey: (tool) => this.pickTool(tool),
    });
    this.edits = new BoardEdits({
      board: this.board, replace: (pairs, options) => this.replace(pairs, options), erase: (ids) => this.erase(ids),
      pickTool: (tool) => this.pickTool(tool),
    });
    this.history = new HistoryBar({
      spaceId: this.rt.spaceId,
      nameOf: (userId) => this.nameOf(userId),
      onVersion: (strokes, at) => this.showVersion(strokes, at),
      onLive: () => this.showVersion(null, null),
      onRestore: (at) => this.restoreVersion(at),
    });
    this.error = h("p.error-box", { role: "alert", hidden: true });
    this.toolbar = this.buildToolbar();
    this.loading = h("div.board-loading", { role: "status" }, "Loading the board…");
    this.el = h("section.whiteboard", { "aria-labelledby": "board-title" },
      h("h2.visually-hidden", { id: "board-title" }, "Whiteboard"),
      this.toolbar, this.history.el, this.error, h("div.board-frame", {}, this.board.el, this.loading));
    // On the document: the Undo / Redo buttons disable themselves when their stack empties, and the
    // focus they held falls back to the page's body, where the shortcuts must go on working.
    this.onKey = (event) => {
      if (this.el.contains(event.target) || event.target === document.body) this.shortcut(event);
    };
    document.addEventListener("keydown", this.onKey);
    // Ctrl/⌘+V with nothing copied in this page: the system clipboard may hold elements another tab
    // copied. Read from the paste event, which needs no permission.
    this.onPaste = (event) => {
      const target = event.target;
      if (!(this.el.contains(target) || target === document.body) || target.matches?.("textarea, input")) return;
      const elements = decode(event.clipboardData?.getData("text/plain") ?? "");
      if (elements && this.canEdit()) {
        event.preventDefault();
        this.edits.paste(elements);
      }
    };
    document.addEventListener("paste", this.onPaste);
    this.setEditable(false);
  }

  // -- toolbar -------------------------------------------------------------------------------------

  buildToolbar() {
    const group = (label, ...items) => h("div.tool-group", { role: "group", "aria-label": label }, ...items);
    // `data-always`: usable by viewers too (panning, zooming, history, exports), never disabled.
    const always = { always: "" };
    this.toolButtons = TOOLS.map(([tool, label, title]) => h("button.tool.icon-button", {
      type: "button", "aria-label": label, title, "aria-pressed": String(tool === "pen"),
      dataset: tool === "hand" ? { tool, ...always } : { tool }, onclick: () => this.pickTool(tool),
    }, icon(tool)));
    this.colorButtons = COLORS.map(([name, color]) => {
      const b = h("button.color", {
        type: "button", "aria-label": name, title: name, "aria-pressed": String(color === this.board.color),
        dataset: { color }, onclick: () => this.pickColor(color),
      });
      b.style.setProperty("--swatch", color);
      return b;
    });
    const customId = uid("color");
    this.custom = h("input.custom-color", { id: customId, type: "color", value: "#1f2937",
      // Dragging in the picker previews; the colour chosen (change) is what recolours a selection.
      oninput: (e) => this.pickColor(e.target.value, { recolor: false }),
      onchange: (e) => this.pickColor(e.target.value) });
    const sizeId = uid("size");
    const size = h("select", {
      id: sizeId, title: "Line width, and the font size of text and notes",
      onchange: (e) => this.pickSize(Number(e.target.value)),
    }, SIZES.map(([label, w]) => h("option", { value: String(w), selected: w === this.board.width }, label)));
    this.undoButton = h("button.icon-button", {
      type: "button", "aria-label": "Undo", title: "Undo my last change (Ctrl+Z)", onclick: () => this.undo(),
    }, icon("undo"));
    this.redoButton = h("button.icon-button", {
      type: "button", "aria-label": "Redo", title: "Redo (Ctrl+Shift+Z or Ctrl+Y)", onclick: () => this.redo(),
    }, icon("redo"));
    this.historyButton = h("button", {
      type: "button", "aria-expanded": "false", dataset: always, title: "Earlier versions of the board",
      onclick: () => this.toggleHistory(),
    }, icon("history"), "History");
    this.clearButton = h("button.danger", { type: "button", onclick: () => this.clear() }, "Clear");
    this.zoomLabel = h("button.zoom-level", {
      type: "button", dataset: always, title: "Reset the zoom to 100% (0)", "aria-label": "Reset zoom (100%)",
      onclick: () => this.board.resetCamera(),
    }, "100%");
    const viewButton = (name, label, title, run) => h("button.icon-button", {
      type: "button", dataset: always, "aria-label": label, title, onclick: run,
    }, icon(name));
    this.roleNote = h("span.muted.view-only", { hidden: true }, "View only");
    const exportSvg = h("button", { type: "button", dataset: always, onclick: () => this.exportSvg() }, "Export SVG");
    const exportPng = h("button", { type: "button", dataset: always, onclick: () => this.exportPng() }, "Export PNG");
    return h("div.toolbar", { role: "toolbar", "aria-label": "Drawing tools" },
      group("Tool", ...this.toolButtons),
      group("Colour", ...this.colorButtons, h("label.visually-hidden", { for: customId }, "Custom colour"), this.custom),
      group("Size", h("label.visually-hidden", { for: sizeId }, "Size"), size),
      group("Changes", this.undoButton, this.redoButton, this.historyButton, this.clearButton),
      group("View",
        viewButton("zoomOut", "Zoom out", "Zoom out (-; Ctrl/⌘+wheel or a pinch zoom about the pointer)",
          () => this.board.zoomBy(1 / 1.25)),
        this.zoomLabel,
        viewButton("zoomIn", "Zoom in", "Zoom in (+; Ctrl/⌘+wheel or a pinch zoom about the pointer)",
          () => this.board.zoomBy(1.25)),
        viewButton("fit", "Zoom to fit", "Zoom to fit everything on the board", () => this.board.zoomToFit())),
      group("Export", exportSvg, exportPng),
      this.roleNote);
  }

  pickTool(tool) {
    if (!this.canEdit() && tool !== "hand") return;
    this.board.tool = tool;
    for (const b of this.toolButtons) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
    this.board.el.dataset.tool = tool;
    if (tool !== "select") this.board.select([]);
  }

  /** The colour of what I draw next; with elements selected, theirs too (and the tool stays). */
  pickColor(color, { recolor = true } = {}) {
    this.board.color = color;
    this.board.noteColor = NOTE_FILLS[color] ?? color;
    for (const b of this.colorButtons) b.setAttribute("aria-pressed", String(b.dataset.color === color));
    if (this.board.selected.size && this.canEdit()) {
      if (recolor) this.edits.recolor({ ink: color, fill: this.board.noteColor });
      return;
    }
    if (["eraser", "select", "hand"].includes(this.board.tool)) this.pickTool("pen");
  }

  pickSize(width) {
    this.board.width = width;
    this.board.fontSize = SIZES.find(([, w]) => w === width)?.[2] ?? 24;
  }

  showZoom({ zoom }) {
    if (!this.zoomLabel) return; // the canvas reports its camera before the toolbar exists
    const pct = Math.round(zoom * 100);
    this.zoomLabel.textContent = `${pct}%`;
    this.zoomLabel.setAttribute("aria-label", `Reset zoom (${pct}%)`);
  }

  canEdit() {
    return this.editable && this.viewing === null;
  }

  setEditable(editable) {
    this.editable = editable;
    this.board.editable = editable;
    this.history.setEditable(editable);
    this.refreshControls();
  }

  /** Drawing controls work for editors on the live board; undo and redo also need a step to take. */
  refreshControls() {
    const can = this.canEdit();
    for (const el of this.toolbar.querySelectorAll("button:not([data-always]), select, input")) el.disabled = !can;
    this.undoButton.disabled = !can || this.stepping || !this.undoStack.length;
    this.redoButton.disabled = !can || this.stepping || !this.redoStack.length;
    this.roleNote.hidden = this.editable;
    if (!can && this.board.tool !== "hand") {
      // Viewers (and anyone looking at an old version) pan with a plain drag; their tool shows it.
      this.board.el.dataset.tool = "hand";
    } else {
      this.board.el.dataset.tool = this.board.tool;
    }
  }

  shortcut(event) {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
    const target = event.target;
    // Text fields keep their own undo.
    if (target.matches?.("textarea, select, input:not([type=range])")) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) {
      event.preventDefault();
      this.undo();
    } else if ((key === "z" && event.shiftKey) || key === "y") {
      event.preventDefault();
      this.redo();
    } else if (!event.shiftKey && this.edits.key(key)) {
      event.preventDefault();
    }
  }

  /** The board as the hub stores it, drawn by the hub: `GET /spaces/{id}/board.svg`. */
  async exportSvg() {
    try {
      const { data } = await api.request("GET", `/spaces/${encodeURIComponent(this.rt.spaceId)}/board.svg`);
      save(new Blob([data], { type: "image/svg+xml" }), "board.svg");
    } catch (e) {
      toast(api.describe(e), "error");
    }
  }

  /** The board as this page shows it, at the canvas's resolution. */
  exportPng() {
    this.board.canvas.toBlob((blob) => {
      if (blob) save(blob, "board.png");
      else toast("The board could not be drawn as an image.", "error");
    }, "image/png");
  }

  showError(message) {
    this.error.hidden = !message;
    this.error.textContent = message || "";
    if (message) toast(message, "error");
  }

  nameOf(userId) {
    if (userId && userId === session.user()?.id) return "You";
    return this.presence.name(userId) || "Someone";
  }

  // -- history -------------------------------------------------------------------------------------

  toggleHistory() {
    if (this.history.open) this.history.hide();
    else this.history.show(this.seq);
    this.historyButton.setAttribute("aria-expanded", String(this.history.open));
  }

  showVersion(strokes, at) {
    this.viewing = strokes ? at : null;
    this.board.showVersion(strokes, at);
    this.refreshControls();
  }

  /** "Restore this version": the whole board as it was after change `at`, one undoable change. */
  async restoreVersion(at) {
    if (!this.editable || !Number.isInteger(at)) return;
    const version = new Map((this.board.view ? [...this.board.view.values()] : []).map((s) => [s.id, s]));
    const before = new Map(this.board.strokes);
    this.history.live();
    const done = await this.restore(at, null, version);
    if (!done.ok) return;
    if (!done.parts.length) {
      toast("The board already looks like that version.");
      return;
    }
    // Undo puts back what each element was before, redo that version again.
    const parts = done.parts.map(({ seq, ids }) => ({
      ids, undoAt: seq - 1, redoAt: seq, before: pick(before, ids), after: pick(version, ids),
    }));
    this.record({ kind: "state", parts });
    toast(`The board is back to change ${at}.`);
  }

  // -- server state --------------------------------------------------------------------------------

  joined(ack) {
    this.inflight.clear();
    this.calls.clear();
    if (this.epoch && ack.epoch && ack.epoch !== this.epoch) {
      // Another epoch: the board was reset and its seqs start again; old steps would aim wrong.
      this.undoStack = [];
      this.redoStack = [];
    }
    this.epoch = ack.epoch ?? this.epoch;
    if (ack.recovered) {
      for (const event of ack.events || []) this.apply(event.type || "stroke", event);
      this.noteSeq(ack.seq);
    } else {
      this.touched.clear();
      this.board.replaceConfirmed(ack.snapshot?.strokes || []);
      this.seq = Number.isInteger(ack.seq) ? ack.seq : 0;
      this.history.setMax(this.seq);
    }
    this.loading.hidden = true;
    this.setEditable(ack.role !== "viewer");
    this.resendPending();
  }

  disconnected() {
    // Acks of this connection will never come; the strokes stay pending for the next join.
    this.inflight.clear();
    this.calls.clear();
  }

  noteSeq(seq) {
    if (!Number.isInteger(seq) || seq <= this.seq) return;
    this.seq = seq;
    this.history.setMax(seq);
  }

  touch(ids, seq) {
    if (!Number.isInteger(seq)) return;
    for (const id of ids || []) if ((this.touched.get(id) ?? -1) < seq) remember(this.touched, id, seq);
  }

  /** Take elements off the board, remembering them: undoing that brings them back as they were. */
  bury(ids) {
    for (const id of ids) {
      const el = this.board.strokes.get(id);
      if (el && !el.pending) remember(this.graveyard, id, el);
    }
    this.board.remove(ids);
  }

  apply(name, payload) {
    if (!payload || typeof payload !== "object") return;
    this.noteSeq(payload.seq);
    if (name === "stroke") {
      if (typeof payload.id === "string" && Array.isArray(payload.points)) {
        this.board.upsert(payload);
        this.touch([payload.id], payload.seq);
      }
    } else if (name === "erase" || name === "clear") {
      const ids = payload.ids || [];
      this.bury(ids);
      this.touch(ids, payload.seq);
      if (name === "clear") this.cleared(payload);
    } else if (name === "transform") {
      // A replay after a gap may bring a move we already applied (ours, or one seen live): once only.
      if (!Array.isArray(payload.ids) || this.applied.has(payload.id)) return;
      if (payload.id) remember(this.applied, payload.id);
      this.board.applyTransform(payload.ids, geo.normalTransform(payload));
      this.touch(payload.ids, payload.seq);
    } else if (name === "restore") {
      this.applyRestore(payload);
    } else if (name === "cursor") {
      // My other tabs are me, not someone else on the board.
      if (!payload.user_id || payload.user_id === session.user()?.id) return;
      this.board.setCursor(payload.user_id, {
        x: payload.x, y: payload.y, name: this.presence.name(payload.user_id), color: this.presence.color(payload.user_id),
      });
    }
  }

  applyRestore(payload) {
    const removed = Array.isArray(payload.removed) ? payload.removed : [];
    const strokes = Array.isArray(payload.strokes) ? payload.strokes : [];
    this.bury(removed);
    for (const s of strokes) if (typeof s?.id === "string" && Array.isArray(s.points)) this.board.upsert(s);
    this.touch([...removed, ...strokes.map((s) => s.id)], payload.seq);
    if (payload.id) remember(this.applied, payload.id);
  }

  // -- calls ---------------------------------------------------------------------------------------

  /** Strokes and changes sent and not acknowledged yet: their seqs are unknown until the ack comes. */
  unacked() {
    return this.inflight.size + this.calls.size;
  }

  resendPending() {
    for (const stroke of this.board.pending()) {
      if (!this.inflight.has(stroke.id) && !this.replacing.has(stroke.id)) this.send(stroke);
    }
  }

  /** Send a stroke; its seq once the hub has it, else null. `alone`: it is an undo step of its own
   * (not when it is part of an edit, which records the step for the whole). */
  async send(stroke, { alone = true } = {}) {
    if (!this.rt.joined) return null; // stays pending; resent after the next join
    this.inflight.add(stroke.id);
    const { id, tool, color, width, points, text } = stroke;
    const payload = { id, tool, color, width, points };
    if (geo.TEXT_TOOLS.has(tool)) payload.text = text ?? "";
    let ack;
    try {
      ack = await this.rt.call("stroke", payload);
    } catch (error) {
      if (!(error instanceof OfflineError)) throw error;
      return null; // offline: pending until the next join resends it
    } finally {
      this.inflight.delete(stroke.id);
    }
    if (ack?.ok) {
      this.resendDelay = 0;
      const wasPending = this.board.strokes.get(id)?.pending;
      this.board.confirm(id, ack.seq);
      this.rt.note(ack.seq);
      this.noteSeq(ack.seq);
      this.touch([id], ack.seq);
      if (wasPending && alone) this.recordState(ack.seq, [id]);
      this.showError("");
      return ack.seq;
    } else if (!codes.TRANSIENT_ACK_CODES.has(ack?.error?.code)) {
      this.board.remove([id]);
      this.showError(`Your ${tool === "text" || tool === "note" ? tool : "stroke"} was not saved: ${ack?.error?.message || "unknown error"}`);
    } else if (this.rt.joined) {
      // Still connected but the hub could not commit now (its database is down, say): no join will
      // come to resend it, so try again after a pause that grows while the refusals go on.
      this.scheduleResend();
    }
    return null;
  }

  scheduleResend() {
    if (this.resendTimer) return;
    this.resendDelay = Math.min(10000, (this.resendDelay || 500) * 2);
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      this.resendPending();
    }, this.resendDelay * (0.75 + Math.random() / 2));
  }

  /** Send a board change; its ok ack (seq noted), or null after saying why it failed. */
  async action(event, payload) {
    const token = {};
    this.calls.add(token);
    try {
      const ack = await this.rt.call(event, payload);
      if (!ack?.ok) {
        this.showError(ack?.error?.message || "The hub refused that.");
        return null;
      }
      if (Number.isInteger(ack.seq)) {
        this.rt.note(ack.seq);
        this.noteSeq(ack.seq);
      }
      return ack;
    } catch (error) {
      if (!(error instanceof OfflineError)) throw error;
      this.showError("You are offline. Try again once reconnected.");
      return null;
    } finally {
      this.calls.delete(token);
    }
  }

  /** Mark elements as changed here ahead of the hub (an erase or a move on its way). */
  hold(ids, by) {
    for (const id of ids) {
      const n = (this.dirty.get(id) || 0) + by;
      if (n > 0) this.dirty.set(id, n);
      else this.dirty.delete(id);
    }
  }

  /**
   * New elements in place of old ones, as ONE undoable change: an edited text, a recolour, a paste.
   * Each pair's `add` (a new element, new id) is drawn at once, its `remove` (if any) hidden, and the
   * adds are sent as strokes; once the hub has an add, its `remove` is erased. Undo is a `restore` of
   * all of those ids to just before the first stroke (the old ones back, the new gone), redo one to
   * just after the erase. An add the hub refused is gone and its old element shown again. One whose
   * ack did not come (offline, the hub slow) may have landed: it stays, pending, and goes the way of
   * any stroke (resent after the next join, the same id, an undo step of its own), next to the old
   * element, which is shown again: two versions on the board, the same for everyone, none lost.
   */
  async replace(pairs, { select = false } = {}) {
    if (!this.canEdit() || !pairs.length) return;
    if (!this.rt.joined) {
      this.showError("You are offline. Try again once reconnected.");
      return;
    }
    const olds = new Map();
    for (const { remove } of pairs) {
      const old = this.board.strokes.get(remove);
      if (old) olds.set(remove, old);
    }
    const hidden = [...olds.keys()];
    const since = this.seq;
    const adds = pairs.map((p) => p.add.id);
    for (const { add } of pairs) this.board.upsert(add, { pending: true });
    for (const id of adds) this.replacing.add(id);
    this.board.remove(hidden);
    this.hold(hidden, 1);
    const unhide = (ids) => {
      // Unless someone changed them meanwhile (their erase, say): then the board has it right.
      for (const id of ids) if (olds.has(id) && (this.touched.get(id) ?? -1) <= since) this.board.upsert(olds.get(id));
    };
    try {
      const seqs = await Promise.all(pairs.map(({ add }) => this.send(add, { alone: false })));
      const landed = pairs.filter((_, i) => Number.isInteger(seqs[i]));
      const failed = pairs.filter((_, i) => !Number.isInteger(seqs[i]));
      unhide(failed.map((p) => p.remove));
      if (failed.some((p) => this.board.strokes.get(p.add.id)?.pending)) {
        this.showError("Not saved yet: the new version is sent again, next to the old one (undo takes it away).");
      }
      if (!landed.length) return;
      const erasing = landed.map((p) => p.remove).filter((id) => olds.has(id));
      const { erased, seqs: erases } = await this.eraseReplaced(erasing, olds, unhide);
      const done = [...seqs.filter(Number.isInteger), ...erases];
      const ids = [...landed.map((p) => p.add.id), ...erased];
      const part = { ids, undoAt: Math.min(...done) - 1, redoAt: Math.max(...done) };
      this.record({ kind: "state", parts: [{ ...part, before: pick(olds, ids), after: pick(this.board.strokes, ids) }] });
      if (select) this.board.select(landed.map((p) => p.add.id).filter((id) => this.board.strokes.has(id)));
    } finally {
      this.hold(hidden, -1);
      for (const id of adds) this.replacing.delete(id);
      // A join while they were on their way skipped them: now they are pending strokes like any other.
      const stuck = adds.some((id) => this.board.strokes.get(id)?.pending);
      if (stuck && this.rt.joined && !this.resendTimer) this.resendPending();
    }
  }

  /** Erase what an edit replaced (already off the board here); those the hub refused are shown again. */
  async eraseReplaced(ids, olds, unhide) {
    const erased = [];
    const seqs = [];
    for (const chunk of chunks(ids)) {
      const ack = await this.action("erase", { ids: chunk });
      if (!ack) {
        unhide(chunk);
        continue;
      }
      this.touch(ack.ids, ack.seq);
      for (const id of chunk) remember(this.graveyard, id, olds.get(id));
      if (Number.isInteger(ack.seq)) seqs.push(ack.seq);
      erased.push(...(ack.ids || []));
    }
    return { erased, seqs };
  }

  async erase(ids) {
    const parts = [];
    for (const chunk of chunks(ids)) {
      const removed = chunk.map((id) => this.board.strokes.get(id)).filter(Boolean);
      this.bury(chunk);
      this.hold(chunk, 1);
      const ack = await this.action("erase", { ids: chunk });
      this.hold(chunk, -1);
      if (!ack) {
        for (const stroke of removed) this.board.upsert(stroke);
        break;
      }
      this.touch(ack.ids, ack.seq);
      if (Number.isInteger(ack.seq) && ack.ids?.length) parts.push({ ids: ack.ids, undoAt: ack.seq - 1, redoAt: ack.seq });
    }
    if (parts.length) this.record({ kind: "state", parts });
  }

  /** Move, resize: drawn at once here, one `transform` per 1,000 elements; the inverse if refused.
   * Returns the ids the hub moved, or null when it refused. */
  async sendTransform(ids, t) {
    const moved = [];
    for (const chunk of chunks(ids)) {
      const id = crypto.randomUUID();
      remember(this.applied, id); // its replay, if one comes, must not move them twice
      const here = this.board.applyTransform(chunk, t);
      this.hold(chunk, 1);
      const ack = await this.action("transform", {
        id, ids: chunk, dx: t.dx, dy: t.dy, scale: [t.sx, t.sy], origin: [t.ox, t.oy],
      });
      this.hold(chunk, -1);
      if (!ack) {
        this.applied.delete(id);
        this.board.applyTransform(here, geo.inverse(t));
        return moved.length ? moved : null;
      }
      this.touch(ack.ids, ack.seq);
      moved.push(...(ack.ids || []));
    }
    return moved;
  }

  async move(ids, t) {
    const moved = await this.sendTransform(ids, t);
    if (moved?.length) this.record({ kind: "transform", ids: moved, t });
  }

  /**
   * `restore {at, ids?}` (ids in chunks of 1,000; none: the whole board). The hub does not send our own
   * restore back to us, so the result is applied here: from `known` (id -> element as it will be) when
   * given, else an element on the board leaves it and one that left comes back as it was; then the
   * board after the change is read back to mend what concurrent changes made us guess wrong.
   * Returns {ok, parts: [{seq, ids}]} for the changes that touched anything.
   */
  async restore(at, ids, known = null) {
    const parts = [];
    for (const chunk of ids ? chunks(ids) : [null]) {
      const id = crypto.randomUUID();
      remember(this.applied, id);
      const ack = await this.action("restore", chunk ? { id, at, ids: chunk } : { id, at });
      if (!ack) return { ok: false, parts };
      if (!Number.isInteger(ack.seq) || !ack.ids?.length) continue;
      parts.push({ seq: ack.seq, ids: ack.ids, exact: this.landed(ack, known) });
    }
    if (parts.length && !parts.every((p) => p.exact)) {
      this.reconcile(parts[parts.length - 1].seq, parts.flatMap((p) => p.ids));
    }
    return { ok: true, parts };
  }

  /** Apply our own restore's outcome; true when the ack said exactly what changed. */
  landed(ack, known) {
    if (Array.isArray(ack.strokes) || Array.isArray(ack.removed)) {
      // A hub that answers with what changed: nothing to guess.
      this.applyRestore({ ...ack, id: null });
      return true;
    }
    for (const id of ack.ids) {
      const was = known ? known.get(id) : this.board.strokes.has(id) ? null : this.graveyard.get(id);
      if (was) this.board.upsert({ ...was, pending: false });
      else this.bury([id]);
    }
    this.touch(ack.ids, ack.seq);
    return false;
  }

  async reconcile(seq, ids) {
    let data;
    try {
      ({ data } = await api.request("GET", `/spaces/${encodeURIComponent(this.rt.spaceId)}/board?at=${seq}`));
    } catch {
      return; // the guess stays; the next snapshot (a reload, a gap) sets it right
    }
    const then = new Map((data?.strokes || []).map((s) => [s.id, s]));
    for (const id of ids) {
      // Changed again since (by anyone), or by us right now: the newer state wins.
      if ((this.touched.get(id) ?? -1) > seq || this.dirty.has(id)) continue;
      const s = then.get(id);
      if (s) this.board.upsert(s);
      else if (this.board.strokes.has(id)) this.bury([id]);
    }
  }

  async clear() {
    const sure = await confirmDialog("Clear the whole board for everyone? Anyone here can undo it afterwards.",
      { confirmLabel: "Clear", danger: true });
    if (!sure) return;
    const ack = await this.action("clear", {});
    if (!ack) return;
    this.bury(ack.ids || []);
    this.touch(ack.ids, ack.seq);
    this.recordState(ack.seq, ack.ids);
    this.cleared({ seq: ack.seq, ids: ack.ids, author: session.user()?.id });
  }

  /** "Alice cleared the board — Undo", for everyone; any editor may bring the board back. */
  cleared({ seq, ids, author }) {
    if (!Number.isInteger(seq) || !ids?.length) return;
    const who = this.nameOf(author);
    if (!this.editable) {
      toast(`${who} cleared the board.`);
      return;
    }
    const item = toast(`${who} cleared the board —`, "info", {
      action: { label: "Undo", onClick: () => this.undoClear(seq, ids) },
    });
    if (item) item.dataset.cleared = String(seq);
  }

  async undoClear(seq, ids) {
    const top = this.undoStack.at(-1);
    if (top?.kind === "state" && top.parts.length === 1 && top.parts[0].redoAt === seq) {
      await this.undo(); // my own clear, still my latest change: an ordinary undo step
      return;
    }
    const done = await this.restore(seq - 1, ids);
    if (done.ok && done.parts.length) {
      this.record({ kind: "state", parts: done.parts.map((p) => ({ ids: p.ids, undoAt: p.seq - 1, redoAt: p.seq })) });
    } else if (done.ok) {
      toast("Those are back on the board already.");
    }
  }

  // -- undo / redo ---------------------------------------------------------------------------------

  recordState(seq, ids) {
    if (Number.isInteger(seq) && ids?.length) this.record({ kind: "state", parts: [{ ids, undoAt: seq - 1, redoAt: seq }] });
  }

  record(entry) {
    this.undoStack.push(entry);
    if (this.undoStack.length > UNDO_DEPTH) this.undoStack.shift();
    this.redoStack = [];
    this.refreshControls();
  }

  undo() {
    return this.step(this.undoStack, this.redoStack, true);
  }

  redo() {
    return this.step(this.redoStack, this.undoStack, false);
  }

  async step(from, to, undoing) {
    if (!this.canEdit()) return;
    const entry = from.at(-1);
    if (!entry) {
      toast(undoing ? "Nothing of yours to undo." : "Nothing to redo.");
      return;
    }
    if (this.stepping) return; // one step at a time: a held key does not stack up requests
    this.stepping = true;
    this.refreshControls();
    try {
      const ok = entry.kind === "transform"
        ? (await this.sendTransform(entry.ids, undoing ? geo.inverse(entry.t) : entry.t)) !== null
        : await this.stepState(entry, undoing);
      if (!ok) return;
      // By identity: a change made meanwhile may have been pushed above it.
      const at = from.lastIndexOf(entry);
      if (at >= 0) from.splice(at, 1);
      to.push(entry);
    } finally {
      this.stepping = false;
      this.refreshControls();
    }
  }

  /**
   * Undo: each part's elements as they were just before it (`undoAt`); redo: as they were just before
   * that undo. Every step is a change of its own, so the seqs to aim at move on with each step.
   */
  async stepState(entry, undoing) {
    const parts = undoing ? [...entry.parts].reverse() : entry.parts;
    for (const part of parts) {
      const done = await this.restore(undoing ? part.undoAt : part.redoAt, part.ids, undoing ? part.before : part.after);
      if (!done.ok) return false;
      const first = done.parts[0]?.seq;
      if (Number.isInteger(first)) {
        if (undoing) part.redoAt = first - 1;
        else part.undoAt = first - 1;
      }
    }
    return true;
  }

  // -- cursors -------------------------------------------------------------------------------------

  /** At most one cursor event per CURSOR_INTERVAL, and always the last position: a move inside the
   * interval is sent when it ends, so the others see the pointer where it stopped. */
  cursor(x, y) {
    this.nextCursor = { x, y };
    const wait = CURSOR_INTERVAL - (performance.now() - this.lastCursor);
    if (wait <= 0) this.sendCursor();
    else if (!this.cursorTimer) this.cursorTimer = setTimeout(() => this.sendCursor(), wait);
  }

  sendCursor() {
    clearTimeout(this.cursorTimer);
    this.cursorTimer = null;
    if (!this.nextCursor) return;
    this.lastCursor = performance.now();
    this.rt.volatile("cursor", this.nextCursor);
    this.nextCursor = null;
  }

  dropUser(userId) {
    this.board.dropCursor(userId);
  }

  destroy() {
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("paste", this.onPaste);
    clearTimeout(this.cursorTimer);
    clearTimeout(this.resendTimer);
    this.board.destroy();
  }
}

/** The entries of `map` for `ids` (null for those it lacks: absent then). */
function pick(map, ids) {
  return new Map(ids.map((id) => [id, map.get(id) ?? null]));
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
