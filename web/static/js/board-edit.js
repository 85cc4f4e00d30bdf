// Editing what is on the board: a text's or a note's new words, a new colour, copies (duplicate, copy /
// cut / paste). The hub never changes an element but to move it, so every edit is a replacement: a
// new element (new id) drawn in place of the old, which is erased. This module builds those new
// elements and keeps the clipboard; the panel (whiteboard.js `replace`) sends them and records each
// edit as one undo step.
import * as geo from "./board-geometry.js";

export const PASTE_OFFSET = 20; // world units right and down, for each paste or duplicate
const MAX_COPIES = 500; // elements per paste: each is a stroke of its own, under the hub's rate limit
const PAYLOAD = "collab-hub/board-elements"; // what our JSON on the system clipboard says it is
const TOOLS = new Set(["pen", "marker", "highlighter", "line", "rect", "ellipse", "arrow", "text", "note"]);

/** A new element like `el` (a new id, pending until the hub has it) with `changes` applied. */
export function copyOf(el, changes = {}) {
  const { tool, color, width, points, text } = { ...el, ...changes };
  const out = { id: crypto.randomUUID(), tool, color, width, points, pending: true };
  if (geo.TEXT_TOOLS.has(tool)) out.text = text ?? "";
  return out;
}

/** A copy of `el` moved `by` world units right and down. */
export function shifted(el, by) {
  return copyOf(geo.transformed(el, { ...geo.IDENTITY, dx: by, dy: by }));
}

/** `el` in the chosen colour: `ink` for lines, shapes and text, `fill` for notes (null: unchanged). */
export function recolored(el, { ink, fill }) {
  const color = el.tool === "note" ? fill : ink;
  return color && color.toLowerCase() !== String(el.color).toLowerCase() ? copyOf(el, { color }) : null;
}

/** The clipboard's JSON: the elements without ids, seqs or authors (a paste gives them new ones). */
export function encode(elements) {
  const plain = elements.map(({ tool, color, width, points, text }) => ({ tool, color, width, points, text }));
  return JSON.stringify({ type: PAYLOAD, elements: plain });
}

/** Elements from clipboard text we wrote (here or in another tab); null for anything else. The hub
 * validates every stroke again: this only keeps out what is plainly not ours. */
export function decode(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (data?.type !== PAYLOAD || !Array.isArray(data.elements)) return null;
  const point = (p) => Array.isArray(p) && p.length >= 2 && p.every(Number.isFinite);
  const ok = data.elements.filter((el) => el && TOOLS.has(el.tool) && typeof el.color === "string"
    && Number.isFinite(el.width) && Array.isArray(el.points) && el.points.length && el.points.every(point));
  return ok.length ? ok.slice(0, MAX_COPIES) : null;
}

export class BoardEdits {
  /**
   * board: the BoardCanvas; replace(pairs, {select}): put each `add` on the board in place of
   * `remove` (if any) as one undo step; erase(ids). The clipboard lives in the page, so copy and
   * paste work whatever the browser allows; the system clipboard gets the same JSON when it can,
   * which lets another tab paste it.
   */
  constructor({ board, replace, erase, pickTool }) {
    this.board = board;
    this.replace = replace;
    this.erase = erase;
    this.pickTool = pickTool;
    this.clip = null; // {elements, pastes}: what was copied, and how often it was pasted since
  }

  /** The selected elements as they are now (moved ones where they were moved to), in board order. */
  selection() {
    return this.board.sorted().filter((el) => this.board.selected.has(el.id) && !el.pending);
  }

  /** Ctrl/⌘ + C, X, V, D; true when the key was ours (the browser's default is then not wanted). */
  key(key) {
    if (!this.board.canEdit()) return false;
    const actions = { c: () => this.copy(), x: () => this.cut(), v: () => this.paste(), d: () => this.duplicate() };
    return actions[key]?.() ?? false;
  }

  copy() {
    const els = this.selection();
    if (!els.length) return false;
    this.clip = { elements: els, pastes: 0 };
    // Best effort: without the permission, or focus, the in-page clipboard still has it.
    navigator.clipboard?.writeText(encode(els)).catch(() => {});
    return true;
  }

  cut() {
    if (!this.copy()) return false;
    this.erase(this.clip.elements.map((el) => el.id));
    return true;
  }

  /** The clipboard's elements (or `elements`, pasted from elsewhere), each paste 20 further along. */
  paste(elements = null) {
    if (elements) this.clip = { elements, pastes: 0 };
    if (!this.clip) return false;
    this.clip.pastes += 1;
    this.place(this.clip.elements.map((el) => shifted(el, PASTE_OFFSET * this.clip.pastes)));
    return true;
  }

  duplicate() {
    const els = this.selection();
    if (!els.length) return false;
    this.place(els.map((el) => shifted(el, PASTE_OFFSET)));
    return true;
  }

  /** New copies become the selection, under the select tool (as after a paste in Excalidraw). */
  place(copies) {
    this.pickTool("select");
    this.replace(copies.slice(0, MAX_COPIES).map((add) => ({ add })), { select: true });
  }

  /** The selection in a new colour; false when nothing is selected (the colour is then the pen's). */
  recolor(colors) {
    const els = this.selection();
    if (!els.length || !this.board.canEdit()) return false;
    const pairs = els.map((el) => ({ add: recolored(el, colors), remove: el.id })).filter((p) => p.add);
    if (pairs.length) this.replace(pairs, { select: true });
    return true;
  }
}
