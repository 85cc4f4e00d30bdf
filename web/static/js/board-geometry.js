// Geometry of board elements in world units: bounds, hit tests, text layout and the `transform`
// mapping of the board protocol. Pure functions (text is measured on a private canvas), shared by the
// canvas, its painter and the panel.

export const TEXT_TOOLS = new Set(["text", "note"]);
// Two-point elements: points = [[x0, y0], [x1, y1]] (start and end, or two opposite corners).
export const SHAPES = new Set(["line", "rect", "ellipse", "arrow"]);
export const FONT = "system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif";
export const LINE_HEIGHT = 1.25; // times the font size
export const NOTE_PADDING = 0.6; // times the font size, inside a note's box

const measurer = document.createElement("canvas").getContext("2d");
const widths = new Map(); // `${size}|${line}` -> width; bounded, see measure()
const MEASURE_CACHE = 5000;

/** The width of one line of text at a font size, in world units (font sizes are world units). */
export function measure(line, size) {
  const key = `${size}|${line}`;
  let width = widths.get(key);
  if (width === undefined) {
    measurer.font = `${size}px ${FONT}`;
    width = measurer.measureText(line).width;
    if (widths.size >= MEASURE_CACHE) widths.clear();
    widths.set(key, width);
  }
  return width;
}

export function first(el) {
  return el.points[0];
}

export function last(el) {
  return el.points[el.points.length - 1];
}

/** [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1. */
export function normRect(a, b) {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

/** A text element's lines and box. */
export function textBox(el) {
  const lines = String(el.text ?? "").split("\n");
  const [x, y] = first(el);
  const w = Math.max(el.width * 0.5, ...lines.map((line) => measure(line, el.width)));
  return { lines, rect: [x, y, x + w, y + lines.length * el.width * LINE_HEIGHT] };
}

/** Break `text` into lines no wider than `max` at font `size`: at spaces, or inside a word too long. */
export function wrap(text, size, max) {
  const out = [];
  for (const paragraph of String(text ?? "").split("\n")) {
    let line = "";
    for (const word of paragraph.split(/(\s+)/)) {
      if (!word) continue;
      const candidate = line + word;
      if (measure(candidate, size) <= max || !line.trim()) {
        line = candidate;
      } else {
        out.push(line.trimEnd());
        line = word.trimStart();
      }
      // A single word wider than the box is cut wherever it overflows.
      while (measure(line, size) > max && line.length > 1) {
        let cut = line.length - 1;
        while (cut > 1 && measure(line.slice(0, cut), size) > max) cut -= 1;
        out.push(line.slice(0, cut));
        line = line.slice(cut);
      }
    }
    out.push(line.trimEnd());
  }
  return out;
}

/** A note's box and its text wrapped inside it (lines that do not fit are cut off). */
export function noteLayout(el) {
  const rect = normRect(first(el), last(el));
  const pad = el.width * NOTE_PADDING;
  const inner = Math.max(el.width, rect[2] - rect[0] - 2 * pad);
  const fit = Math.max(1, Math.floor((rect[3] - rect[1] - 2 * pad) / (el.width * LINE_HEIGHT)));
  const lines = wrap(el.text, el.width, inner);
  return { rect, pad, lines: lines.slice(0, fit), cut: lines.length > fit };
}

function arrowHead(el) {
  return Math.max(10, el.width * 3);
}

/** The element's bounding box in world units, its stroke width included. */
export function bounds(el) {
  if (el.tool === "text") return textBox(el).rect;
  if (el.tool === "note") return normRect(first(el), last(el));
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of el.points) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  const pad = el.width / 2 + (el.tool === "arrow" ? arrowHead(el) / 2 : 0);
  return [x0 - pad, y0 - pad, x1 + pad, y1 + pad];
}

export function union(rects) {
  let out = null;
  for (const r of rects) {
    out = out ? [Math.min(out[0], r[0]), Math.min(out[1], r[1]), Math.max(out[2], r[2]), Math.max(out[3], r[3])] : [...r];
  }
  return out;
}

export function contains(rect, [x, y], slack = 0) {
  return x >= rect[0] - slack && x <= rect[2] + slack && y >= rect[1] - slack && y <= rect[3] + slack;
}

export function inside(inner, outer) {
  return inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3];
}

export function distanceToSegment(p, a, b) {
  const [px, py] = p;
  const [ax, ay] = a;
  const [bx, by] = b;
  const dx = bx - ax;
  const dy = by - ay;
  const len = dx * dx + dy * dy;
  const t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function nearPolyline(pts, point, reach, closed = false) {
  if (pts.length === 1) return Math.hypot(point[0] - pts[0][0], point[1] - pts[0][1]) <= reach;
  for (let i = 1; i < pts.length; i += 1) if (distanceToSegment(point, pts[i - 1], pts[i]) <= reach) return true;
  return closed && distanceToSegment(point, pts[pts.length - 1], pts[0]) <= reach;
}

/** The outline of a rect or an ellipse as a polygon (corners first to last). */
export function outline(el) {
  const [x0, y0, x1, y1] = normRect(first(el), last(el));
  if (el.tool === "rect") return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const steps = 48;
  return Array.from({ length: steps }, (_, i) => {
    const a = (i / steps) * Math.PI * 2;
    return [cx + ((x1 - x0) / 2) * Math.cos(a), cy + ((y1 - y0) / 2) * Math.sin(a)];
  });
}

/**
 * Does `point` touch the element, within `radius` world units? Lines and outlines are hit near their
 * ink (a rectangle is hollow: a click inside it reaches what lies below); text and notes anywhere
 * inside their box.
 */
export function hits(el, point, radius) {
  if (TEXT_TOOLS.has(el.tool)) return contains(bounds(el), point, radius);
  const reach = radius + el.width / 2;
  if (el.tool === "rect" || el.tool === "ellipse") return nearPolyline(outline(el), point, reach, true);
  if (el.tool === "line" || el.tool === "arrow") return nearPolyline([first(el), last(el)], point, reach);
  return nearPolyline(el.points, point, reach);
}

/** The identity of the `transform` mapping: p -> o + s * (p - o) + d, per axis. */
export const IDENTITY = Object.freeze({ dx: 0, dy: 0, sx: 1, sy: 1, ox: 0, oy: 0 });

export function mapPoint(p, t) {
  const out = [t.ox + t.sx * (p[0] - t.ox) + t.dx, t.oy + t.sy * (p[1] - t.oy) + t.dy];
  if (p.length > 2) out.push(p[2]); // pressure rides along
  return out;
}

/** The element moved by a transform: every point mapped; a text's or note's font size times sy. */
export function transformed(el, t) {
  const width = TEXT_TOOLS.has(el.tool) ? el.width * t.sy : el.width;
  return { ...el, points: el.points.map((p) => mapPoint(p, t)), width };
}

/** The transform that undoes `t` (docs: origin o + d, scale 1/s, offset -d). */
export function inverse(t) {
  return { dx: -t.dx, dy: -t.dy, sx: 1 / t.sx, sy: 1 / t.sy, ox: t.ox + t.dx, oy: t.oy + t.dy };
}

/** A `transform` event's or a gesture's numbers, defaults filled in. */
export function normalTransform(raw) {
  const num = (v, d) => (Number.isFinite(v) ? v : d);
  return {
    dx: num(raw.dx, 0), dy: num(raw.dy, 0), sx: num(raw.sx, 1), sy: num(raw.sy, 1),
    ox: num(raw.ox, 0), oy: num(raw.oy, 0),
  };
}

/** Black text on light fills, white on dark ones (relative luminance of a #rgb / #rrggbb colour). */
export function inkOn(fill) {
  let hex = String(fill || "").replace("#", "");
  if (hex.length === 3 || hex.length === 4) hex = [...hex.slice(0, 3)].map((c) => c + c).join("");
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  if ([r, g, b].some((v) => Number.isNaN(v))) return "#1f2937";
  const lin = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b) > 0.179 ? "#1f2937" : "#ffffff";
}
