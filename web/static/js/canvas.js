// The whiteboard canvas: a model of strokes in world coordinates, rendering, and pointer input.
// It knows nothing about the network; the whiteboard panel feeds it server state and listens for
// `onStroke` / `onErase` / `onCursor`.
import { h } from "./dom.js";

export const WORLD_W = 1600;
export const WORLD_H = 1000;
const ERASER_RADIUS = 12;
const MIN_STEP = 1.5; // world units between recorded points: smooth lines, small payloads
const MAX_POINTS = 2000;

function distanceToSegment(p, a, b) {
  const [px, py] = p;
  const [ax, ay] = a;
  const [bx, by] = b;
  const dx = bx - ax;
  const dy = by - ay;
  const len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

export function hits(stroke, point, radius) {
  const pts = stroke.points;
  const reach = radius + stroke.width / 2;
  if (pts.length === 1) return Math.hypot(point[0] - pts[0][0], point[1] - pts[0][1]) <= reach;
  for (let i = 1; i < pts.length; i += 1) {
    if (distanceToSegment(point, pts[i - 1], pts[i]) <= reach) return true;
  }
  return false;
}

export class BoardCanvas {
  constructor({ onStroke, onErase, onCursor }) {
    this.onStroke = onStroke;
    this.onErase = onErase;
    this.onCursor = onCursor;
    this.strokes = new Map(); // id -> {id, tool, color, width, points, seq, author, pending}
    this.order = 0;
    this.tool = "pen";
    this.color = "#1f2937";
    this.width = 4;
    this.editable = false;
    this.drawing = null;
    this.erasing = null;
    this.cursors = new Map();
    this.canvas = h("canvas.board-canvas", {
      tabindex: "0", role: "img", "aria-label": "Whiteboard. Draw with a mouse, pen or finger.",
    });
    this.cursorLayer = h("div.cursor-layer", { "aria-hidden": "true" });
    this.summary = h("p.visually-hidden", { "aria-live": "polite" });
    this.el = h("div.board", { dataset: { strokes: "0", pending: "0" } }, this.canvas, this.cursorLayer, this.summary);
    this.ctx = this.canvas.getContext("2d");
    this.bindInput();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.el);
  }

  // -- model ---------------------------------------------------------------------------------------

  sorted() {
    // Confirmed strokes in server order, then our pending ones in the order we drew them.
    return [...this.strokes.values()].sort((a, b) => {
      if (a.seq != null && b.seq != null) return a.seq - b.seq;
      if (a.seq != null) return -1;
      if (b.seq != null) return 1;
      return a.order - b.order;
    });
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
    stroke.pending = false;
    stroke.seq = seq;
    this.changed();
  }

  remove(ids) {
    let any = false;
    for (const id of ids) any = this.strokes.delete(id) || any;
    if (any) this.changed();
  }

  /** Replace everything the server holds with a snapshot; our unacknowledged strokes survive. */
  replaceConfirmed(strokes) {
    for (const [id, stroke] of this.strokes) if (!stroke.pending) this.strokes.delete(id);
    for (const stroke of strokes) {
      if (this.strokes.has(stroke.id)) this.confirm(stroke.id, stroke.seq);
      else this.strokes.set(stroke.id, { ...stroke, pending: false, order: (this.order += 1) });
    }
    this.changed();
  }

  pending() {
    return this.sorted().filter((s) => s.pending);
  }

  changed() {
    const pending = [...this.strokes.values()].filter((s) => s.pending).length;
    this.el.dataset.strokes = String(this.strokes.size);
    this.el.dataset.pending = String(pending);
    this.summary.textContent = `${this.strokes.size} strokes on the board${pending ? `, ${pending} not yet saved` : ""}.`;
    this.schedule();
  }

  // -- rendering -----------------------------------------------------------------------------------

  resize() {
    const rect = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.schedule();
    }
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.draw();
    });
  }

  draw() {
    const { ctx, canvas } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(canvas.width / WORLD_W, 0, 0, canvas.height / WORLD_H, 0, 0);
    for (const stroke of this.sorted()) this.paint(stroke);
    if (this.drawing) this.paint(this.drawing);
    if (this.erasing) {
      for (const id of this.erasing) {
        const s = this.strokes.get(id);
        if (s) this.paint({ ...s, color: "#ef4444", width: s.width + 4, ghost: true });
      }
    }
  }

  paint(stroke) {
    const { ctx } = this;
    const pts = stroke.points;
    ctx.save();
    ctx.globalAlpha = stroke.ghost ? 0.35 : stroke.tool === "highlighter" ? 0.35 : stroke.pending ? 0.8 : 1;
    ctx.strokeStyle = stroke.color;
    ctx.fillStyle = stroke.color;
    ctx.lineWidth = stroke.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (pts.length === 1) {
      ctx.beginPath();
      ctx.arc(pts[0][0], pts[0][1], stroke.width / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (let i = 1; i < pts.length; i += 1) ctx.lineTo(pts[i][0], pts[i][1]);
      ctx.stroke();
    }
    ctx.restore();
  }

  // -- cursors -------------------------------------------------------------------------------------

  setCursor(key, { x, y, name, color }) {
    let el = this.cursors.get(key);
    if (!el) {
      el = h("div.cursor", {}, h("span.cursor-dot"), h("span.cursor-name"));
      this.cursors.set(key, el);
      this.cursorLayer.append(el);
    }
    // CSSOM writes (not style attributes) are allowed under the CSP's style-src 'self'.
    el.style.left = `${(x / WORLD_W) * 100}%`;
    el.style.top = `${(y / WORLD_H) * 100}%`;
    el.style.setProperty("--cursor-color", color || "#555");
    el.lastChild.textContent = name || "";
    el.dataset.user = key;
    el.dataset.x = String(Math.round(x)); // world units, for tests and tools
    el.dataset.y = String(Math.round(y));
  }

  dropCursor(key) {
    this.cursors.get(key)?.remove();
    this.cursors.delete(key);
  }

  // -- input ---------------------------------------------------------------------------------------

  toWorld(event) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * WORLD_W;
    const y = ((event.clientY - rect.top) / rect.height) * WORLD_H;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  bindInput() {
    const c = this.canvas;
    const finish = () => this.finish();
    c.addEventListener("pointerdown", (event) => {
      if (!this.editable || event.button !== 0) return;
      event.preventDefault();
      c.focus({ preventScroll: true });
      c.setPointerCapture(event.pointerId);
      const point = this.toWorld(event);
      if (this.tool === "eraser") {
        this.erasing = new Set();
        this.eraseAt(point);
      } else {
        this.drawing = {
          id: crypto.randomUUID(), tool: this.tool, color: this.color, width: this.width, points: [point],
          pending: true,
        };
      }
      this.schedule();
    });
    c.addEventListener("pointermove", (event) => {
      const point = this.toWorld(event);
      this.onCursor?.(point[0], point[1]);
      if (this.drawing) {
        const last = this.drawing.points[this.drawing.points.length - 1];
        if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= MIN_STEP) {
          this.drawing.points.push(point);
          if (this.drawing.points.length >= MAX_POINTS) {
            // The hub caps points per stroke; a very long line continues as a new stroke.
            finish();
            this.drawing = {
              id: crypto.randomUUID(), tool: this.tool, color: this.color, width: this.width, points: [point],
              pending: true,
            };
          }
          this.schedule();
        }
      } else if (this.erasing) {
        this.eraseAt(point);
      }
    });
    c.addEventListener("pointerup", finish);
    c.addEventListener("pointercancel", finish);
  }

  finish() {
    if (this.drawing) {
      const stroke = this.drawing;
      this.drawing = null;
      this.upsert(stroke, { pending: true });
      this.onStroke?.(stroke);
    } else if (this.erasing) {
      const ids = [...this.erasing];
      this.erasing = null;
      this.schedule();
      if (ids.length) this.onErase?.(ids);
    }
  }

  eraseAt(point) {
    for (const stroke of this.strokes.values()) {
      // Only strokes the hub knows about can be erased; pending ones have no server identity yet.
      if (!stroke.pending && !this.erasing.has(stroke.id) && hits(stroke, point, ERASER_RADIUS)) {
        this.erasing.add(stroke.id);
        this.schedule();
      }
    }
  }

  destroy() {
    this.resizeObserver.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
  }
}
