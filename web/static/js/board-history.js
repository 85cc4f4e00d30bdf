// The board's history bar: a slider over every change (0 .. the board's seq) that shows the board as
// it was right after the chosen one, read-only, fetched from `GET /spaces/{id}/board?at=<seq>`; a
// banner to restore that version or go back to live; and the latest changes, each a jump.
import * as api from "./api.js";
import { h, timeAgo, uid } from "./dom.js";

const DEBOUNCE_MS = 120; // slider moves within this are one fetch: dragging it asks for the last spot only
const RECENT = 15;

function describeChange(item, name) {
  const n = item.strokes;
  const what = {
    stroke: "drew",
    erase: `erased ${n}`,
    clear: `cleared the board (${n})`,
    undo: `undid ${n}`,
    transform: `moved ${n}`,
    restore: `restored ${n}`,
  }[item.kind] || item.kind;
  return `${name} ${what}`;
}

export class HistoryBar {
  /** onVersion(strokes, at): show a past board; onLive(): the live board again; onRestore(at). */
  constructor({ spaceId, nameOf, onVersion, onLive, onRestore }) {
    this.spaceId = spaceId;
    this.nameOf = nameOf;
    this.onVersion = onVersion;
    this.onLive = onLive;
    this.onRestore = onRestore;
    this.max = 0;
    this.at = null; // the change shown, null when live
    this.asked = 0; // the latest fetch: answers to older ones are dropped
    this.editable = false;
    const rangeId = uid("version");
    this.range = h("input.history-range", {
      id: rangeId, type: "range", min: "0", max: "0", step: "1", value: "0",
      oninput: () => this.moved(false), onchange: () => this.moved(true),
    });
    this.output = h("output.history-position", { for: rangeId });
    this.restoreButton = h("button.primary.small", { type: "button", onclick: () => this.onRestore(this.at) },
      "Restore this version");
    this.bannerText = h("span");
    this.banner = h("p.history-banner", { role: "status", hidden: true },
      this.bannerText, " ", this.restoreButton, h("span.muted", { "aria-hidden": "true" }, " · "),
      h("button.small", { type: "button", onclick: () => this.live() }, "Back to live"));
    this.recent = h("ol.history-recent", { "aria-label": "Recent changes" });
    this.el = h("section.board-history", { "aria-label": "Board history", hidden: true, dataset: { at: "live" } },
      h("div.history-row", {},
        h("label", { for: rangeId }, "Version"), this.range, this.output),
      this.banner,
      h("details.history-changes", { ontoggle: (e) => e.target.open && this.loadRecent() },
        h("summary", {}, "Recent changes"), this.recent));
  }

  get open() {
    return !this.el.hidden;
  }

  show(seq) {
    this.el.hidden = false;
    this.setMax(seq);
    this.range.value = String(this.max);
    this.describe();
    this.range.focus();
  }

  hide() {
    this.el.hidden = true;
    if (this.at !== null) this.live();
  }

  setEditable(editable) {
    this.editable = editable;
    this.restoreButton.hidden = !editable;
  }

  /** The board's latest change; the slider reaches it (and follows it while live). */
  setMax(seq) {
    if (!Number.isInteger(seq) || seq < 0) return;
    this.max = seq;
    this.range.max = String(seq);
    if (this.at === null) this.range.value = String(seq);
    this.describe();
  }

  describe() {
    const value = Number(this.range.value);
    const text = this.at === null ? `Live · ${this.max} changes` : `Change ${value} of ${this.max}`;
    this.output.textContent = text;
    this.range.setAttribute("aria-valuetext", text);
  }

  moved(now) {
    clearTimeout(this.timer);
    this.describe();
    if (now) this.view(Number(this.range.value));
    else this.timer = setTimeout(() => this.view(Number(this.range.value)), DEBOUNCE_MS);
  }

  async view(at) {
    clearTimeout(this.timer);
    const ticket = (this.asked += 1);
    let data;
    try {
      ({ data } = await api.request("GET", `/spaces/${encodeURIComponent(this.spaceId)}/board?at=${at}`));
    } catch (error) {
      if (ticket === this.asked) this.fail(api.describe(error));
      return;
    }
    if (ticket !== this.asked || this.el.hidden) return;
    this.at = at;
    this.range.value = String(at);
    this.el.dataset.at = String(at);
    this.bannerText.textContent = `Viewing the board as of change ${at} —`;
    this.banner.hidden = false;
    this.describe();
    this.onVersion(data?.strokes || [], at);
  }

  fail(message) {
    this.bannerText.textContent = `That version could not be loaded: ${message}`;
    this.banner.hidden = false;
  }

  live() {
    this.asked += 1; // an answer still on its way no longer matters
    clearTimeout(this.timer);
    this.at = null;
    this.el.dataset.at = "live";
    this.banner.hidden = true;
    this.range.value = String(this.max);
    this.describe();
    this.onLive();
  }

  async loadRecent() {
    let data;
    try {
      data = await api.get(`/spaces/${encodeURIComponent(this.spaceId)}/board/history?limit=${RECENT}`);
    } catch (error) {
      this.recent.replaceChildren(h("li.muted", {}, api.describe(error)));
      return;
    }
    const items = data?.items || [];
    if (!items.length) {
      this.recent.replaceChildren(h("li.muted", {}, "No changes yet."));
      return;
    }
    this.recent.replaceChildren(...items.map((item) => h("li", { dataset: { seq: String(item.seq) } },
      h("button.link-button", { type: "button", onclick: () => this.view(item.seq) },
        `${item.seq}. ${describeChange(item, this.nameOf(item.author_id))}`),
      item.at ? h("span.muted", {}, " ", timeAgo(item.at)) : null)));
  }
}
