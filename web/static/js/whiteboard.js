// The whiteboard panel: its toolbar, the canvas (canvas.js), and the board's realtime state kept in
// sync with the hub.
//
// Optimistic drawing: a finished stroke is drawn at once (pending) and sent with an ack. An ok ack
// confirms it with its seq; an error ack removes it and says why. A stroke whose ack never came
// (we went offline) stays pending and is resent with the same id after the next join — the hub
// deduplicates by id, so a stroke that did land is acknowledged again, never drawn twice.
import * as api from "./api.js";
import { BoardCanvas } from "./canvas.js";
import * as codes from "./codes.js";
import { h, uid } from "./dom.js";
import { OfflineError } from "./realtime.js";
import { confirmDialog, toast } from "./ui.js";

const COLORS = [
  ["Black", "#1f2937"], ["Red", "#dc2626"], ["Orange", "#ea580c"], ["Green", "#16a34a"], ["Blue", "#2563eb"],
  ["Purple", "#9333ea"],
];
const WIDTHS = [["Fine", 2], ["Medium", 4], ["Thick", 8], ["Huge", 16]];
const TOOLS = [["pen", "Pen"], ["highlighter", "Highlighter"], ["eraser", "Eraser"]];
const CURSOR_INTERVAL = 50;

export class Whiteboard {
  constructor({ realtime, presence }) {
    this.rt = realtime;
    this.presence = presence;
    this.inflight = new Set();
    this.lastCursor = 0;
    this.board = new BoardCanvas({
      onStroke: (stroke) => this.send(stroke),
      onErase: (ids) => this.erase(ids),
      onCursor: (x, y) => this.cursor(x, y),
    });
    this.error = h("p.error-box", { role: "alert", hidden: true });
    this.toolbar = this.buildToolbar();
    this.loading = h("div.board-loading", { role: "status" }, "Loading the board…");
    this.el = h("section.whiteboard", { "aria-labelledby": "board-title" },
      h("h2.visually-hidden", { id: "board-title" }, "Whiteboard"),
      this.toolbar, this.error, h("div.board-frame", {}, this.board.el, this.loading));
    this.board.canvas.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
        event.preventDefault();
        this.undo();
      }
    });
    this.setEditable(false);
  }

  buildToolbar() {
    const group = (label, ...items) => h("div.tool-group", { role: "group", "aria-label": label }, ...items);
    this.toolButtons = TOOLS.map(([tool, label]) => h("button.tool", {
      type: "button", "aria-pressed": String(tool === "pen"), dataset: { tool },
      onclick: () => this.pickTool(tool),
    }, label));
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
      oninput: (e) => this.pickColor(e.target.value) });
    const widthId = uid("width");
    const width = h("select", { id: widthId, onchange: (e) => { this.board.width = Number(e.target.value); } },
      WIDTHS.map(([label, w]) => h("option", { value: String(w), selected: w === this.board.width }, label)));
    this.undoButton = h("button", { type: "button", onclick: () => this.undo(), title: "Undo my last stroke (Ctrl+Z)" }, "Undo");
    this.clearButton = h("button.danger", { type: "button", onclick: () => this.clear() }, "Clear");
    this.roleNote = h("span.muted.view-only", { hidden: true }, "View only");
    // Exports are for everyone who sees the board, viewers included (`data-always`: never disabled).
    const exportSvg = h("button", { type: "button", dataset: { always: "" }, onclick: () => this.exportSvg() },
      "Export SVG");
    const exportPng = h("button", { type: "button", dataset: { always: "" }, onclick: () => this.exportPng() },
      "Export PNG");
    return h("div.toolbar", { role: "toolbar", "aria-label": "Drawing tools" },
      group("Tool", ...this.toolButtons),
      group("Colour", ...this.colorButtons, h("label.visually-hidden", { for: customId }, "Custom colour"), this.custom),
      group("Width", h("label.visually-hidden", { for: widthId }, "Line width"), width),
      group("History", this.undoButton, this.clearButton),
      group("Export", exportSvg, exportPng),
      this.roleNote);
  }

  pickTool(tool) {
    this.board.tool = tool;
    for (const b of this.toolButtons) b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
    this.board.el.dataset.tool = tool;
  }

  pickColor(color) {
    this.board.color = color;
    if (this.board.tool === "eraser") this.pickTool("pen");
    for (const b of this.colorButtons) b.setAttribute("aria-pressed", String(b.dataset.color === color));
  }

  setEditable(editable) {
    this.board.editable = editable;
    for (const el of this.toolbar.querySelectorAll("button:not([data-always]), select, input")) el.disabled = !editable;
    this.roleNote.hidden = editable;
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

  // -- server state --------------------------------------------------------------------------------

  joined(ack) {
    this.inflight.clear();
    if (ack.recovered) {
      for (const event of ack.events || []) this.apply(event.type || "stroke", event);
    } else {
      this.board.replaceConfirmed(ack.snapshot?.strokes || []);
    }
    this.loading.hidden = true;
    this.setEditable(ack.role !== "viewer");
    this.resendPending();
  }

  disconnected() {
    // Acks of this connection will never come; the strokes stay pending for the next join.
    this.inflight.clear();
  }

  apply(name, payload) {
    if (name === "stroke") {
      if (typeof payload.id === "string" && Array.isArray(payload.points)) this.board.upsert(payload);
    } else if (name === "erase" || name === "clear") {
      this.board.remove(payload.ids || []);
    } else if (name === "cursor") {
      if (!payload.user_id) return;
      this.board.setCursor(payload.user_id, {
        x: payload.x, y: payload.y, name: this.presence.name(payload.user_id), color: this.presence.color(payload.user_id),
      });
    }
  }

  // -- actions -------------------------------------------------------------------------------------

  /** Strokes sent and not acknowledged yet: their seqs are unknown until the ack comes. */
  unacked() {
    return this.inflight.size;
  }

  resendPending() {
    for (const stroke of this.board.pending()) if (!this.inflight.has(stroke.id)) this.send(stroke);
  }

  async send(stroke) {
    if (!this.rt.joined) return; // stays pending; resent after the next join
    this.inflight.add(stroke.id);
    const { id, tool, color, width, points } = stroke;
    let ack;
    try {
      ack = await this.rt.call("stroke", { id, tool, color, width, points });
    } catch (error) {
      if (!(error instanceof OfflineError)) throw error;
      return; // offline: pending until the next join resends it
    } finally {
      this.inflight.delete(stroke.id);
    }
    if (ack?.ok) {
      this.resendDelay = 0;
      this.board.confirm(id, ack.seq);
      this.rt.note(ack.seq);
      this.showError("");
    } else if (!codes.TRANSIENT_ACK_CODES.has(ack?.error?.code)) {
      this.board.remove([id]);
      this.showError(`Your stroke was not saved: ${ack?.error?.message || "unknown error"}`);
    } else if (this.rt.joined) {
      // Still connected but the hub could not commit now (its database is down, say): no join will
      // come to resend it, so try again after a pause that grows while the refusals go on.
      this.scheduleResend();
    }
  }

  scheduleResend() {
    if (this.resendTimer) return;
    this.resendDelay = Math.min(10000, (this.resendDelay || 500) * 2);
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      this.resendPending();
    }, this.resendDelay * (0.75 + Math.random() / 2));
  }

  async action(event, payload, onOk) {
    try {
      const ack = await this.rt.call(event, payload);
      if (!ack?.ok) {
        this.showError(ack?.error?.message || "The hub refused that.");
        return false;
      }
      if (Number.isInteger(ack.seq)) this.rt.note(ack.seq);
      onOk?.(ack);
      return true;
    } catch (error) {
      if (!(error instanceof OfflineError)) throw error;
      this.showError("You are offline. Try again once reconnected.");
      return false;
    }
  }

  async erase(ids) {
    const removed = ids.map((id) => this.board.strokes.get(id)).filter(Boolean);
    this.board.remove(ids);
    const ok = await this.action("erase", { ids });
    if (!ok) for (const stroke of removed) this.board.upsert(stroke);
  }

  async undo() {
    if (!this.board.editable) return;
    await this.action("undo", {}, (ack) => {
      if (ack.ids?.length) this.board.remove(ack.ids);
      else toast("Nothing of yours to undo.");
    });
  }

  async clear() {
    if (!(await confirmDialog("Clear the whole board for everyone?", { confirmLabel: "Clear", danger: true }))) return;
    await this.action("clear", {}, (ack) => this.board.remove(ack.ids || []));
  }

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
    clearTimeout(this.cursorTimer);
    this.board.destroy();
  }
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
