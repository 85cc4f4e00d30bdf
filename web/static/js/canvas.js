// The whiteboard canvas: a model of elements in world units, a camera over that infinite world,
// rendering, and pointer / keyboard input. It knows nothing about the network; the whiteboard panel
// feeds it server state and listens for `onStroke` / `onErase` / `onTransform` / `onCursor`, and
// `onReplace` for an edited text or note (a new element in place of the old: see board-edit.js).
//
// World and camera: at zoom 1 the old fixed 1600 x 1000 world fills the canvas's width (so a board
// drawn before the camera existed looks as it did, and so do the positions remote cursors report).
// screen = (world - camera) * zoom * (canvas CSS width / 1600). The board element exposes the camera
// as data-zoom, data-pan-x and data-pan-y (the world point at the canvas's top-left corner).
import { h } from "./dom.js";
import * as geo from "./board-geometry.js";
import { copyOf } from "./board-edit.js";
import { handle, outlineRect, paint } from "./board-paint.js";

export const WORLD_W = 1600;
export const WORLD_H = 1000;
export const ZOOM_MIN = 0.1;
export const ZOOM_MAX = 8;
export { hits } from "./board-geometry.js";

const ERASER_PX = 12; // the eraser's reach, in world units at zoom 1 (it shrinks as you zoom in)
const MIN_STEP = 1.5; // world units between recorded points at zoom 1: smooth lines, small payloads
const MAX_POINTS = 2000;
const HIT_PX = 6; // how close (screen px at zoom 1) a click must be to a line to pick it
const HANDLE_PX = 12; // the resize handle's size on screen
const TOUCH_HANDLE_PX = 24; // ... under a finger: big enough to hit (coarse pointers, touch input)
const DRAG_PX = 3; // a press that moves less than this is a click
const NOTE_SIZE = 220; // a clicked note's side, world units
const MIN_NOTE = 40;
const PAN_STEP = 60; // arrow keys pan this many screen px (four times that with Shift)
const KEY_ZOOM = 1.25;
const MAX_TEXT = 2000;
const FREEHAND = new Set(["pen", "marker", "highlighter"]);
// Control characters the hub refuses in text (line breaks and tabs are fine).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
const TOOL_KEYS = {
  v: "select", h: "hand", p: "pen", m: "highlighter", l: "line", r: "rect", o: "ellipse", a: "arrow",
  t: "text", n: "note", e: "eraser",
};

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const round1 = (v) => Math.round(v * 10) / 10;

export class BoardCanvas {
  constructor({ onStroke, onErase, onReplace, onCursor, onTransform, onCamera, onToolKey, onSelection }) {
    this.onStroke = onStroke;
    this.onErase = onErase;
    this.onReplace = onReplace;
    this.onCursor = onCursor;
    this.onTransform = onTransform;
    this.onCamera = onCamera;
    this.onToolKey = onToolKey;
    this.onSelection = onSelection;
    this.strokes = new Map(); // id -> {id, tool, color, width, points, text, seq, author, pending, order}
    this.view = null; // a read-only Map shown instead of `strokes` (a past version of the board)
    this.order = 0;
    this.tool = "pen";
    this.color = "#1f2937";
    this.noteColor = "#fef08a";
    this.width = 4;
    this.fontSize = 24;
    this.editable = false;
    this.camera = { x: 0, y: 0, zoom: 1 };
    this.viewW = WORLD_W; // the canvas's CSS size, kept by resize()
    this.viewH = WORLD_H;
    this.selected = new Set();
    this.gesture = null; // what the pressed pointer is doing: see pointerDown()
    this.preview = null; // a transform drawn on the selection while it is dragged
    this.pointers = new Map(); // pointerId -> [x, y] local CSS px, for pinch
    this.editor = null; // the open text / note textarea
    // A device whose main pointer is a finger, or a touch seen on this board: bigger handles.
    this.coarse = window.matchMedia?.("(pointer: coarse)") ?? null;
    this.touchInput = false;
    this.spaceDown = false;
    this.cursors = new Map();
    this.sortedCache = null;
    this.canvas = h("canvas.board-canvas", {
      tabindex: "0", role: "img",
      "aria-label": "Whiteboard. Draw with a mouse, pen or finger. The wheel pans, Ctrl or ⌘ with the wheel zooms.",
    });
    this.cursorLayer = h("div.cursor-layer", { "aria-hidden": "true" });
    this.summary = h("p.visually-hidden", { "aria-live": "polite" });
    // The words on the board, for screen readers (and tests): one item per text or note.
    this.textList = h("ul.board-texts.visually-hidden", { "aria-label": "Text on the board" });
    this.el = h("div.board", { dataset: { strokes: "0", pending: "0", selected: "0", shown: "0", tool: "pen" } },
      this.canvas, this.cursorLayer, this.summary, this.textList);
    this.ctx = this.canvas.getContext("2d");
    this.bindInput();
    this.publishHandle();
    this.coarse?.addEventListener?.("change", () => this.publishHandle());
    this.publishCamera();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.el);
  }

  // -- model ---------------------------------------------------------------------------------------

  /** What the canvas shows: the live board, or the past version being viewed. */
  shown() {
    return this.view ?? this.strokes;
  }

  sorted() {
    if (this.sortedCache) return this.sortedCache;
    // Confirmed elements in server order, then our pending ones in the order we drew them.
    this.sortedCache = [...this.shown().values()].sort((a, b) => {
      if (a.seq != null && b.seq != null) return a.seq - b.seq;
      if (a.seq != null) return -1;
      if (b.seq != null) return 1;
      return a.order - b.order;
    });
    return this.sortedCache;
  }

  upsert(stroke, { pending = false } = {}) {
    const existing = this.strokes.get(stroke.id);
    this.strokes.set(stroke.id, {
      ...existing, ...stroke, pending, order: existing?.order ?? (this.order += 1), seq: stroke.seq ?? existing?.seq ?? null,
    });
    this.changed();
  }

  confirm(id, seq) {
    const stroke = this.strokes.get(id);
    if (!stroke) return;
    this.strokes.set(id, { ...stroke, pending: false, seq });
    this.changed();
  }

  remove(ids) {
    let any = false;
    for (const id of ids) any = this.strokes.delete(id) || any;
    if (any) this.changed();
  }

  /** Move elements as a `transform` does (missing ids are skipped); returns the ids moved. */
  applyTransform(ids, t) {
    const moved = [];
    for (const id of ids) {
      const el = this.strokes.get(id);
      if (!el) continue;
      this.strokes.set(id, geo.transformed(el, t));
      moved.push(id);
    }
    if (moved.length) this.changed();
    return moved;
  }

  /** Replace everything the server holds with a snapshot; our unacknowledged strokes survive. */
  replaceConfirmed(strokes) {
    for (const [id, stroke] of this.strokes) if (!stroke.pending) this.strokes.delete(id);
    for (const stroke of strokes) {
      const mine = this.strokes.get(stroke.id);
      this.strokes.set(stroke.id, { ...stroke, pending: false, order: mine?.order ?? (this.order += 1) });
    }
    this.changed();
  }

  pending() {
    return this.sorted().filter((s) => s.pending);
  }

  /** Show a past version read-only (`strokes`, the board after change `at`), or the live board (null). */
  showVersion(strokes, at) {
    this.cancelGesture();
    this.closeEditor(false);
    if (strokes) {
      this.view = new Map(strokes.map((s, i) => [s.id, { ...s, pending: false, order: i }]));
      this.el.dataset.viewing = String(at);
    } else {
      this.view = null;
      delete this.el.dataset.viewing;
    }
    this.select([]);
    this.changed();
  }

  changed() {
    this.sortedCache = null;
    let pending = 0;
    for (const s of this.strokes.values()) if (s.pending) pending += 1;
    this.el.dataset.strokes = String(this.strokes.size);
    this.el.dataset.pending = String(pending);
    this.summary.textContent = `${this.strokes.size} elements on the board${pending ? `, ${pending} not yet saved` : ""}.`;
    // Elements taken off the board (by us or anyone) leave the selection.
    if (this.selected.size) {
      const kept = this.view ? [] : [...this.selected].filter((id) => this.strokes.has(id));
      if (kept.length !== this.selected.size) this.select(kept);
    }
    this.metaDirty = true;
    this.schedule();
  }

  /** The attributes derived from every element: written once per frame, not once per event. */
  publishMeta() {
    if (!this.metaDirty) return;
    this.metaDirty = false;
    const els = this.sorted();
    this.el.dataset.shown = String(els.length);
    const all = geo.union(els.map((el) => this.boundsOf(el)));
    if (all) this.el.dataset.bounds = all.map(Math.round).join(",");
    else delete this.el.dataset.bounds;
    const texts = els.filter((el) => geo.TEXT_TOOLS.has(el.tool));
    this.textList.replaceChildren(...texts.map((el) => {
      const [x0, y0, x1, y1] = this.boundsOf(el);
      return h("li", {
        dataset: {
          id: el.id, tool: el.tool, color: el.color, x: String(Math.round(x0)), y: String(Math.round(y0)),
          w: String(Math.round(x1 - x0)), h: String(Math.round(y1 - y0)), size: String(round1(el.width)),
        },
      }, `${el.tool === "note" ? "Note" : "Text"}: ${el.text || "(empty)"}`);
    }));
  }

  boundsOf(el) {
    // Elements are replaced, never mutated, on every change, so their bounds can be kept per object.
    this.boundsCache ??= new WeakMap();
    let b = this.boundsCache.get(el);
    if (!b) {
      b = geo.bounds(el);
      this.boundsCache.set(el, b);
    }
    return b;
  }

  // -- selection -----------------------------------------------------------------------------------

  select(ids) {
    const next = new Set(ids);
    const same = next.size === this.selected.size && [...next].every((id) => this.selected.has(id));
    this.selected = next;
    if (same) return;
    this.el.dataset.selected = String(next.size);
    this.publishSelection();
    this.onSelection?.(next);
    this.schedule();
  }

  /** The selection's box, with the transform being dragged applied (null when nothing is selected). */
  selectionBounds() {
    const rects = [];
    for (const id of this.selected) {
      const el = this.strokes.get(id);
      if (el) rects.push(this.boundsOf(this.preview ? geo.transformed(el, this.preview) : el));
    }
    return geo.union(rects);
  }

  publishSelection() {
    const box = this.selectionBounds();
    if (box) this.el.dataset.selectionBox = box.map(Math.round).join(",");
    else delete this.el.dataset.selectionBox;
  }

  selectable(el) {
    // Only elements the hub knows can be moved or erased; pending ones have no server identity yet.
    return !el.pending;
  }

  /** The topmost element under a world point: one whose ink is hit, else the smallest box around it. */
  pick(point) {
    const tol = HIT_PX / this.camera.zoom;
    const els = this.sorted();
    for (let i = els.length - 1; i >= 0; i -= 1) {
      if (this.selectable(els[i]) && geo.hits(els[i], point, tol)) return els[i];
    }
    let best = null;
    let area = Infinity;
    for (const el of els) {
      if (!this.selectable(el) || !(el.tool === "rect" || el.tool === "ellipse")) continue;
      const b = this.boundsOf(el);
      const a = (b[2] - b[0]) * (b[3] - b[1]);
      if (geo.contains(b, point) && a < area) {
        best = el;
        area = a;
      }
    }
    return best;
  }

  selectAll() {
    this.select(this.sorted().filter((el) => this.selectable(el)).map((el) => el.id));
  }

  // -- camera --------------------------------------------------------------------------------------

  /** CSS px per world unit. */
  scale() {
    return (this.viewW / WORLD_W) * this.camera.zoom;
  }

  toScreen([x, y]) {
    const s = this.scale();
    return [(x - this.camera.x) * s, (y - this.camera.y) * s];
  }

  fromScreen([sx, sy]) {
    const s = this.scale();
    return [sx / s + this.camera.x, sy / s + this.camera.y];
  }

  setCamera({ x = this.camera.x, y = this.camera.y, zoom = this.camera.zoom }) {
    const z = clamp(zoom, ZOOM_MIN, ZOOM_MAX);
    // The hub keeps coordinates within ±1,000,000; so does the camera.
    this.camera = { x: clamp(x, -1e6, 1e6), y: clamp(y, -1e6, 1e6), zoom: z };
    this.publishCamera();
    this.schedule();
  }

  publishCamera() {
    const { x, y, zoom } = this.camera;
    const d = this.el.dataset;
    d.zoom = String(Math.round(zoom * 1000) / 1000);
    d.panX = String(round1(x));
    d.panY = String(round1(y));
    const s = this.scale();
    d.view = [x, y, x + this.viewW / s, y + this.viewH / s].map(Math.round).join(",");
    for (const el of this.cursors.values()) this.placeCursor(el);
    this.placeEditor();
    this.onCamera?.(this.camera);
  }

  /** Zoom by `factor` keeping the world point under `at` (local CSS px; default the centre) still. */
  zoomBy(factor, at = [this.viewW / 2, this.viewH / 2]) {
    const world = this.fromScreen(at);
    const zoom = clamp(this.camera.zoom * factor, ZOOM_MIN, ZOOM_MAX);
    const s = (this.viewW / WORLD_W) * zoom;
    this.setCamera({ zoom, x: world[0] - at[0] / s, y: world[1] - at[1] / s });
  }

  panBy(dxScreen, dyScreen) {
    const s = this.scale();
    this.setCamera({ x: this.camera.x + dxScreen / s, y: this.camera.y + dyScreen / s });
  }

  resetCamera() {
    this.setCamera({ x: 0, y: 0, zoom: 1 });
  }

  /** Fit every element shown into the canvas, with a margin (the default view when there are none). */
  zoomToFit() {
    const box = geo.union(this.sorted().map((el) => this.boundsOf(el)));
    if (!box) {
      this.resetCamera();
      return;
    }
    const base = this.viewW / WORLD_W;
    const w = Math.max(box[2] - box[0], 1);
    const hgt = Math.max(box[3] - box[1], 1);
    const zoom = clamp(Math.min(this.viewW / (w * base), this.viewH / (hgt * base)) * 0.9, ZOOM_MIN, ZOOM_MAX);
    const s = base * zoom;
    this.setCamera({ zoom, x: (box[0] + box[2]) / 2 - this.viewW / (2 * s), y: (box[1] + box[3]) / 2 - this.viewH / (2 * s) });
  }

  // -- rendering -----------------------------------------------------------------------------------

  resize() {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    const sized = rect.width > 0 && (rect.width !== this.viewW || rect.height !== this.viewH);
    if (rect.width > 0) {
      this.viewW = rect.width;
      this.viewH = rect.height;
    }
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.schedule();
    }
    if (sized) this.publishCamera();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  }

  visibleRect() {
    const [x0, y0] = this.fromScreen([0, 0]);
    const [x1, y1] = this.fromScreen([this.viewW, this.viewH]);
    return [x0, y0, x1, y1];
  }

  draw() {
    this.publishMeta();
    const { ctx, canvas } = this;
    const ratio = canvas.width / Math.max(1, this.viewW);
    const s = this.scale() * ratio;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(s, 0, 0, s, -this.camera.x * s, -this.camera.y * s);
    const visible = this.visibleRect();
    const overlaps = (b) => b[2] >= visible[0] && b[0] <= visible[2] && b[3] >= visible[1] && b[1] <= visible[3];
    const moving = this.preview && !this.view;
    for (const el of this.sorted()) {
      if (el.id === this.editor?.editing) continue; // its editor stands in for it
      const shown = moving && this.selected.has(el.id) ? geo.transformed(el, this.preview) : el;
      if (overlaps(this.boundsOf(shown))) paint(ctx, shown);
    }
    const g = this.gesture;
    if (g?.drawing) paint(ctx, g.drawing);
    if (g?.kind === "erase") {
      for (const id of g.ids) {
        const el = this.strokes.get(id);
        if (el) paint(ctx, { ...el, color: "#ef4444", width: el.width + (geo.TEXT_TOOLS.has(el.tool) ? 0 : 4), ghost: true });
      }
    }
    this.drawSelection(ctx, s / ratio);
    if (g?.kind === "marquee") {
      outlineRect(ctx, geo.normRect(g.start, g.end), s / ratio, { fill: "rgb(52 81 178 / 0.08)" });
    }
    if (g?.kind === "note-drag") {
      outlineRect(ctx, geo.normRect(g.start, g.end), s / ratio, { color: "#a16207" });
    }
  }

  drawSelection(ctx, s) {
    if (!this.selected.size || this.view) return;
    for (const id of this.selected) {
      const el = this.strokes.get(id);
      if (!el) continue;
      outlineRect(ctx, this.boundsOf(this.preview ? geo.transformed(el, this.preview) : el), s,
        { color: "rgb(52 81 178 / 0.5)" });
    }
    const box = this.selectionBounds();
    if (!box) return;
    const pad = 4 / s;
    const padded = [box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad];
    outlineRect(ctx, padded, s, { dashed: false });
    if (this.canEdit()) handle(ctx, [padded[2], padded[3]], s, this.handleSize());
  }

  /** The resize handle's side in CSS px: a finger needs a bigger target than a mouse. */
  handleSize() {
    return this.coarse?.matches || this.touchInput ? TOUCH_HANDLE_PX : HANDLE_PX;
  }

  publishHandle() {
    this.el.dataset.handleSize = String(this.handleSize());
    this.schedule();
  }

  // -- cursors -------------------------------------------------------------------------------------

  setCursor(key, { x, y, name, color }) {
    let el = this.cursors.get(key);
    if (!el) {
      el = h("div.cursor", {}, h("span.cursor-dot"), h("span.cursor-name"));
      this.cursors.set(key, el);
      this.cursorLayer.append(el);
    }
    el.style.setProperty("--cursor-color", color || "#555");
    el.lastChild.textContent = name || "";
    el.dataset.user = key;
    el.dataset.x = String(Math.round(x)); // world units, for tests and tools
    el.dataset.y = String(Math.round(y));
    this.placeCursor(el);
  }

  placeCursor(el) {
    // Through the camera: a cursor points at the same world spot whatever each person's view.
    // CSSOM writes (not style attributes) are allowed under the CSP's style-src 'self'.
    const [sx, sy] = this.toScreen([Number(el.dataset.x), Number(el.dataset.y)]);
    el.style.left = `${sx}px`;
    el.style.top = `${sy}px`;
    el.hidden = sx < -20 || sy < -20 || sx > this.viewW + 20 || sy > this.viewH + 20;
  }

  dropCursor(key) {
    this.cursors.get(key)?.remove();
    this.cursors.delete(key);
  }

  // -- input ---------------------------------------------------------------------------------------

  canEdit() {
    return this.editable && !this.view;
  }

  local(event) {
    const rect = this.canvas.getBoundingClientRect();
    if (rect.width > 0 && (rect.width !== this.viewW || rect.height !== this.viewH)) this.resize();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  toWorld(event) {
    const [x, y] = this.fromScreen(this.local(event));
    return [round1(x), round1(y)];
  }

  bindInput() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (event) => this.pointerDown(event));
    c.addEventListener("pointermove", (event) => this.pointerMove(event));
    c.addEventListener("pointerup", (event) => this.pointerUp(event));
    c.addEventListener("pointercancel", (event) => this.pointerUp(event));
    c.addEventListener("dblclick", (event) => this.doubleClick(event));
    c.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
    c.addEventListener("keydown", (event) => this.keyDown(event));
    c.addEventListener("keyup", (event) => {
      if (event.key === " ") this.setSpace(false);
    });
    c.addEventListener("blur", () => this.setSpace(false));
    // The browser's own double-tap zoom and context menu would fight the board's gestures.
    c.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  setSpace(down) {
    this.spaceDown = down;
    this.el.classList.toggle("panning", down);
  }

  capture(event) {
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch {
      // A synthetic or already released pointer cannot be captured; its events still arrive.
    }
  }

  pointerDown(event) {
    // A press by a pointer whose release we never saw (it left the window uncaptured) ends that gesture.
    if (this.gesture && this.gesture.pointer === event.pointerId) this.pointerUp(event);
    this.pointers.set(event.pointerId, this.local(event));
    const touch = event.pointerType === "touch";
    if (touch !== this.touchInput) {
      this.touchInput = touch;
      this.publishHandle();
    }
    if (this.pointers.size === 2) {
      this.startPinch();
      return;
    }
    if (this.pointers.size > 2 || this.gesture) return;
    event.preventDefault();
    if (this.editor) this.closeEditor(true);
    this.canvas.focus({ preventScroll: true });
    const point = this.toWorld(event);
    const pan = event.button === 1 || (event.button === 0 && (this.tool === "hand" || this.spaceDown || !this.canEdit()));
    if (!pan && event.button !== 0) return;
    this.capture(event);
    if (pan) {
      this.gesture = { kind: "pan", pointer: event.pointerId, last: this.local(event) };
      this.el.classList.add("panning");
      return;
    }
    const start = { pointer: event.pointerId, start: point, screen: this.local(event) };
    if (this.tool === "eraser") {
      this.gesture = { ...start, kind: "erase", ids: new Set() };
      this.eraseAt(point);
    } else if (this.tool === "select") {
      this.selectDown(start, event.shiftKey);
    } else if (this.tool === "text") {
      this.gesture = { ...start, kind: "text" };
    } else if (this.tool === "note") {
      this.gesture = { ...start, kind: "note-drag", end: point };
    } else {
      this.gesture = { ...start, kind: "draw", drawing: this.newStroke(point) };
    }
    this.schedule();
  }

  newStroke(point) {
    const shape = geo.SHAPES.has(this.tool);
    return {
      id: crypto.randomUUID(), tool: this.tool, color: this.color, width: this.width,
      points: shape ? [point, point] : [point], pending: true,
    };
  }

  selectDown(start, shift) {
    const box = this.selectionBounds();
    if (box && this.canEdit() && this.onHandle(start.screen, box)) {
      this.gesture = { ...start, kind: "resize", box };
      return;
    }
    const hit = this.pick(start.start);
    if (hit && shift) {
      const next = new Set(this.selected);
      if (next.has(hit.id)) next.delete(hit.id);
      else next.add(hit.id);
      this.select(next);
      this.gesture = next.has(hit.id) ? { ...start, kind: "move" } : { ...start, kind: "click" };
    } else if (hit) {
      if (!this.selected.has(hit.id)) this.select([hit.id]);
      this.gesture = { ...start, kind: "move", hit: hit.id };
    } else if (box && geo.contains(box, start.start)) {
      this.gesture = { ...start, kind: "move" };
    } else {
      const base = shift ? new Set(this.selected) : new Set();
      this.select(base);
      this.gesture = { ...start, kind: "marquee", end: start.start, base };
    }
  }

  onHandle(screen, box) {
    const pad = 4 / this.scale();
    const [hx, hy] = this.toScreen([box[2] + pad, box[3] + pad]);
    // Hit within the handle's own size of its centre: twice the drawn square, forgiving a near miss.
    const reach = this.handleSize();
    return Math.abs(screen[0] - hx) <= reach && Math.abs(screen[1] - hy) <= reach;
  }

  pointerMove(event) {
    if (this.pointers.has(event.pointerId)) this.pointers.set(event.pointerId, this.local(event));
    const point = this.toWorld(event);
    this.onCursor?.(point[0], point[1]);
    const g = this.gesture;
    if (!g) return;
    if (g.kind === "pinch") {
      this.pinchMove();
      return;
    }
    if (g.pointer !== event.pointerId) return;
    const screen = this.local(event);
    const far = Math.hypot(screen[0] - (g.screen?.[0] ?? 0), screen[1] - (g.screen?.[1] ?? 0)) >= DRAG_PX;
    if (g.kind === "pan") {
      this.panBy(g.last[0] - screen[0], g.last[1] - screen[1]);
      g.last = screen;
    } else if (g.kind === "draw") {
      this.extend(g, point, event.shiftKey);
    } else if (g.kind === "erase") {
      this.eraseAt(point);
    } else if (g.kind === "move" && (far || g.moved)) {
      g.moved = true;
      this.setPreview({ ...geo.IDENTITY, dx: point[0] - g.start[0], dy: point[1] - g.start[1] });
    } else if (g.kind === "resize") {
      this.setPreview(this.resizeTransform(g, point, event.shiftKey));
    } else if (g.kind === "marquee" || g.kind === "note-drag") {
      g.end = point;
      if (g.kind === "marquee") this.marquee(g);
      this.schedule();
    }
  }

  setPreview(t) {
    this.preview = t;
    this.publishSelection();
    this.schedule();
  }

  /** Scale about the selection box's top-left so that its bottom-right corner follows the pointer. */
  resizeTransform(g, point, keepRatio) {
    const [x0, y0, x1, y1] = g.box;
    const w = x1 - x0;
    const hgt = y1 - y0;
    let sx = w > 1e-6 ? (x1 - x0 + point[0] - g.start[0]) / w : 1;
    let sy = hgt > 1e-6 ? (y1 - y0 + point[1] - g.start[1]) / hgt : 1;
    if (keepRatio) sx = sy = Math.max(sx, sy);
    // The hub takes 0.01..100 per axis (no mirroring).
    sx = clamp(sx, 0.01, 100);
    sy = clamp(sy, 0.01, 100);
    return { dx: 0, dy: 0, sx, sy, ox: x0, oy: y0 };
  }

  marquee(g) {
    const rect = geo.normRect(g.start, g.end);
    const ids = new Set(g.base);
    for (const el of this.sorted()) if (this.selectable(el) && geo.inside(this.boundsOf(el), rect)) ids.add(el.id);
    this.select(ids);
  }

  extend(g, point, constrain) {
    const d = g.drawing;
    if (geo.SHAPES.has(d.tool)) {
      d.points = [d.points[0], constrain ? this.constrained(d.tool, d.points[0], point) : point];
      this.schedule();
      return;
    }
    const last = d.points[d.points.length - 1];
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) < MIN_STEP / this.camera.zoom) return;
    d.points.push(point);
    if (d.points.length >= MAX_POINTS) {
      // The hub caps points per stroke; a very long line continues as a new stroke.
      this.commitDrawing(d);
      g.drawing = this.newStroke(point);
    }
    this.schedule();
  }

  /** Shift: squares and circles, lines at multiples of 45°. */
  constrained(tool, a, b) {
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    if (tool === "rect" || tool === "ellipse") {
      const side = Math.max(Math.abs(dx), Math.abs(dy));
      return [a[0] + Math.sign(dx || 1) * side, a[1] + Math.sign(dy || 1) * side];
    }
    const angle = Math.round(Math.atan2(dy, dx) / (Math.PI / 4)) * (Math.PI / 4);
    const len = Math.hypot(dx, dy);
    return [round1(a[0] + len * Math.cos(angle)), round1(a[1] + len * Math.sin(angle))];
  }

  pointerUp(event) {
    this.pointers.delete(event.pointerId);
    const g = this.gesture;
    if (!g) return;
    if (g.kind === "pinch") {
      // The other finger stays down but starts nothing: lift both to begin a new gesture.
      if (!this.pointers.size) this.gesture = null;
      return;
    }
    if (g.pointer !== event.pointerId) return;
    this.gesture = null;
    this.el.classList.toggle("panning", this.spaceDown);
    const point = this.toWorld(event);
    const handlers = {
      draw: () => this.commitDrawing(g.drawing),
      erase: () => {
        if (g.ids.size) this.onErase?.([...g.ids]);
      },
      move: () => {
        this.finishTransform(g.moved);
        // A click (no drag) on one element of a larger selection selects just that element.
        if (!g.moved && g.hit) this.select([g.hit]);
      },
      resize: () => this.finishTransform(true),
      text: () => this.openEditor({ tool: "text", at: point }),
      "note-drag": () => this.placeNote(g.start, point),
    };
    handlers[g.kind]?.();
    this.schedule();
  }

  commitDrawing(stroke) {
    if (geo.SHAPES.has(stroke.tool)) {
      // A click with a shape tool draws nothing: a shape is dragged out.
      const [a, b] = [this.toScreen(stroke.points[0]), this.toScreen(stroke.points[1])];
      if (Math.hypot(a[0] - b[0], a[1] - b[1]) < DRAG_PX) return;
    }
    this.upsert(stroke, { pending: true });
    this.onStroke?.(stroke);
  }

  finishTransform(changed) {
    const t = this.preview;
    this.preview = null;
    const ids = [...this.selected].filter((id) => this.strokes.has(id));
    const moves = t && (t.dx || t.dy || t.sx !== 1 || t.sy !== 1);
    if (changed && moves && ids.length) this.onTransform?.(ids, t);
    this.publishSelection();
  }

  placeNote(start, end) {
    const [sx, sy] = this.toScreen(start);
    const [ex, ey] = this.toScreen(end);
    let rect;
    if (Math.hypot(ex - sx, ey - sy) < DRAG_PX * 2) {
      rect = [start[0], start[1], start[0] + NOTE_SIZE, start[1] + NOTE_SIZE];
    } else {
      rect = geo.normRect(start, end);
      rect[2] = Math.max(rect[2], rect[0] + MIN_NOTE);
      rect[3] = Math.max(rect[3], rect[1] + MIN_NOTE);
    }
    this.openEditor({ tool: "note", rect: rect.map(round1) });
  }

  cancelGesture() {
    this.gesture = null;
    this.preview = null;
    this.publishSelection();
    this.schedule();
  }

  startPinch() {
    // A second finger turns whatever the first began into a pinch: a half-drawn stroke is dropped.
    this.preview = null;
    const [a, b] = [...this.pointers.values()];
    this.gesture = {
      kind: "pinch", camera: { ...this.camera }, dist: Math.max(1, Math.hypot(a[0] - b[0], a[1] - b[1])),
      mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2],
    };
    this.schedule();
  }

  pinchMove() {
    const g = this.gesture;
    const [a, b] = [...this.pointers.values()];
    if (!a || !b) return;
    const base = this.viewW / WORLD_W;
    const zoom = clamp(g.camera.zoom * (Math.hypot(a[0] - b[0], a[1] - b[1]) / g.dist), ZOOM_MIN, ZOOM_MAX);
    const mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
    // The world point under the fingers' first midpoint stays under their midpoint now.
    const wx = g.mid[0] / (base * g.camera.zoom) + g.camera.x;
    const wy = g.mid[1] / (base * g.camera.zoom) + g.camera.y;
    this.setCamera({ zoom, x: wx - mid[0] / (base * zoom), y: wy - mid[1] / (base * zoom) });
  }

  wheel(event) {
    event.preventDefault();
    // Lines or pages (some mice, some systems) in pixels.
    const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? this.viewH : 1;
    const dx = event.deltaX * unit;
    const dy = event.deltaY * unit;
    if (event.ctrlKey || event.metaKey) {
      // Ctrl/⌘ + wheel, and a trackpad's pinch (which the browser reports as ctrl + wheel), zoom.
      this.zoomBy(Math.exp(-dy * 0.0025), this.local(event));
    } else if (event.shiftKey && !dx) {
      this.panBy(dy, 0);
    } else {
      this.panBy(dx, dy);
    }
  }

  keyDown(event) {
    if (this.editor) return;
    const key = event.key;
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    const step = (event.shiftKey ? 4 : 1) * PAN_STEP;
    const actions = {
      "+": () => this.zoomBy(KEY_ZOOM),
      "=": () => this.zoomBy(KEY_ZOOM),
      "-": () => this.zoomBy(1 / KEY_ZOOM),
      _: () => this.zoomBy(1 / KEY_ZOOM),
      0: () => this.resetCamera(),
      ArrowLeft: () => this.panBy(-step, 0),
      ArrowRight: () => this.panBy(step, 0),
      ArrowUp: () => this.panBy(0, -step),
      ArrowDown: () => this.panBy(0, step),
      Escape: () => {
        this.cancelGesture();
        this.select([]);
      },
      Enter: () => this.editSelected(),
      Delete: () => this.eraseSelection(),
      Backspace: () => this.eraseSelection(),
      " ": () => this.setSpace(true),
    };
    if (plain && actions[key]) {
      event.preventDefault();
      actions[key]();
    } else if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "a" && this.canEdit()) {
      event.preventDefault();
      this.onToolKey?.("select");
      this.selectAll();
    } else if (plain && !event.shiftKey && TOOL_KEYS[key]) {
      event.preventDefault();
      this.onToolKey?.(TOOL_KEYS[key]);
    }
  }

  eraseSelection() {
    if (!this.canEdit() || !this.selected.size) return;
    const ids = [...this.selected].filter((id) => this.strokes.has(id));
    this.select([]);
    if (ids.length) this.onErase?.(ids);
  }

  eraseAt(point) {
    const g = this.gesture;
    const radius = ERASER_PX / this.camera.zoom;
    for (const stroke of this.strokes.values()) {
      if (this.selectable(stroke) && !g.ids.has(stroke.id) && geo.hits(stroke, point, radius)) {
        g.ids.add(stroke.id);
        this.schedule();
      }
    }
  }

  // -- text and notes ------------------------------------------------------------------------------

  /** Double-click with the select tool on a text or a note: edit it where it is. */
  doubleClick(event) {
    if (this.tool !== "select" || !this.canEdit() || this.editor) return;
    const hit = this.pick(this.toWorld(event));
    if (!hit || !geo.TEXT_TOOLS.has(hit.tool)) return;
    this.select([hit.id]);
    this.editElement(hit);
  }

  /** Enter with exactly one text or note selected edits it, as in Excalidraw and tldraw. */
  editSelected() {
    if (!this.canEdit() || this.selected.size !== 1) return;
    const el = this.strokes.get([...this.selected][0]);
    if (el && geo.TEXT_TOOLS.has(el.tool)) this.editElement(el);
  }

  /** The editor over an element on the board, prefilled: its commit replaces the element. */
  editElement(el) {
    const rect = el.tool === "note" ? geo.normRect(geo.first(el), geo.last(el)) : null;
    this.openEditor({ tool: el.tool, at: rect ? null : geo.first(el), rect, element: el });
  }

  /** A textarea over the board where the text or note will be (or is, for `element`): Enter or
   * leaving it commits, Escape cancels, Shift+Enter starts a new line. */
  openEditor({ tool, at, rect, element = null }) {
    const area = h("textarea.board-editor", {
      "aria-label": tool === "note" ? "Note text" : "Text", maxlength: String(MAX_TEXT), rows: "1",
      spellcheck: "true", dataset: { tool },
    });
    const color = element?.color ?? (tool === "note" ? this.noteColor : this.color);
    this.editor = {
      tool, at: at ?? [rect[0], rect[1]], rect, size: element?.width ?? this.fontSize, color, area, done: false,
      editing: element?.id ?? null,
    };
    area.value = element?.text ?? "";
    area.classList.toggle("board-editor-note", tool === "note");
    area.style.setProperty("--ink", tool === "note" ? geo.inkOn(color) : color);
    if (tool === "note") area.style.setProperty("--fill", color);
    area.addEventListener("keydown", (event) => {
      event.stopPropagation(); // the board's and the panel's shortcuts are not for the text
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.closeEditor(true, true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.closeEditor(false, true);
      }
    });
    area.addEventListener("input", () => this.placeEditor());
    area.addEventListener("blur", () => this.closeEditor(true));
    this.el.append(area);
    this.el.dataset.editing = element ? `${tool}:${element.id}` : tool;
    this.placeEditor();
    area.focus({ preventScroll: true });
    area.setSelectionRange(area.value.length, area.value.length);
    if (element) this.schedule(); // the element itself is not drawn while its editor is open
  }

  placeEditor() {
    const e = this.editor;
    if (!e) return;
    const s = this.scale();
    const [left, top] = this.toScreen(e.at);
    const st = e.area.style;
    st.left = `${left}px`;
    st.top = `${top}px`;
    st.fontSize = `${e.size * s}px`;
    if (e.tool === "note") {
      st.width = `${(e.rect[2] - e.rect[0]) * s}px`;
      st.height = `${(e.rect[3] - e.rect[1]) * s}px`;
      st.padding = `${e.size * geo.NOTE_PADDING * s}px`;
    } else {
      const lines = e.area.value.split("\n");
      const widest = Math.max(...lines.map((line) => geo.measure(line || " ", e.size)));
      st.width = `${(widest + e.size) * s}px`;
      st.height = `${lines.length * e.size * geo.LINE_HEIGHT * s + 4}px`;
    }
  }

  closeEditor(commit, refocus = false) {
    const e = this.editor;
    if (!e || e.done) return;
    e.done = true;
    this.editor = null;
    delete this.el.dataset.editing;
    const text = e.area.value.replace(CONTROL, "").slice(0, MAX_TEXT);
    e.area.remove();
    if (refocus) this.canvas.focus({ preventScroll: true });
    this.schedule();
    if (!commit || !this.canEdit()) return;
    if (e.editing) {
      this.commitEdit(e.editing, text);
      return;
    }
    if (e.tool === "text" && !text.trim()) return;
    const stroke = {
      id: crypto.randomUUID(), tool: e.tool, color: e.color, width: e.size, text, pending: true,
      points: e.tool === "note" ? [[e.rect[0], e.rect[1]], [e.rect[2], e.rect[3]]] : [e.at],
    };
    this.upsert(stroke, { pending: true });
    this.onStroke?.(stroke);
  }

  /** An edited element's new text: unchanged, nothing; emptied, it goes; else a new element (the
   * hub's elements only ever move) takes its place, as it is now (moved meanwhile, even by others). */
  commitEdit(id, text) {
    const el = this.strokes.get(id);
    if (!el) return; // erased while it was being edited
    if (!text.trim()) this.onErase?.([id]);
    else if (text !== el.text) this.onReplace?.([{ add: copyOf(el, { text }), remove: id }]);
  }

  destroy() {
    this.resizeObserver.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
  }
}
