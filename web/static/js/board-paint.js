// Drawing board elements on a 2D context whose transform already maps world units to pixels.
import { FONT, LINE_HEIGHT, first, inkOn, last, noteLayout, normRect, textBox } from "./board-geometry.js";

function alpha(el) {
  if (el.ghost) return 0.35;
  if (el.tool === "highlighter") return 0.35;
  return el.pending ? 0.8 : 1;
}

function polyline(ctx, pts, width) {
  if (pts.length === 1) {
    ctx.beginPath();
    ctx.arc(pts[0][0], pts[0][1], width / 2, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(pts[0][0], pts[0][1]);
  for (let i = 1; i < pts.length; i += 1) ctx.lineTo(pts[i][0], pts[i][1]);
  ctx.stroke();
}

function arrow(ctx, el) {
  const [ax, ay] = first(el);
  const [bx, by] = last(el);
  polyline(ctx, [[ax, ay], [bx, by]], el.width);
  const len = Math.hypot(bx - ax, by - ay);
  if (!len) return;
  const head = Math.min(len * 0.6, Math.max(10, el.width * 3));
  const angle = Math.atan2(by - ay, bx - ax);
  const wing = (side) => [bx - head * Math.cos(angle + side * 0.45), by - head * Math.sin(angle + side * 0.45)];
  ctx.beginPath();
  ctx.moveTo(...wing(1));
  ctx.lineTo(bx, by);
  ctx.lineTo(...wing(-1));
  ctx.stroke();
}

function text(ctx, el) {
  const { lines } = textBox(el);
  const [x, y] = first(el);
  ctx.font = `${el.width}px ${FONT}`;
  ctx.textBaseline = "top";
  lines.forEach((line, i) => ctx.fillText(line, x, y + i * el.width * LINE_HEIGHT + el.width * 0.1));
}

function note(ctx, el) {
  const { rect, pad, lines, cut } = noteLayout(el);
  const [x0, y0, x1, y1] = rect;
  ctx.save();
  // A soft shadow lifts the note off the board; shadows are in device pixels, whatever the zoom.
  ctx.shadowColor = "rgb(0 0 0 / 0.18)";
  ctx.shadowBlur = 6;
  ctx.shadowOffsetY = 2;
  ctx.beginPath();
  if (ctx.roundRect) ctx.roundRect(x0, y0, x1 - x0, y1 - y0, Math.min(8, (x1 - x0) / 8));
  else ctx.rect(x0, y0, x1 - x0, y1 - y0);
  ctx.fill();
  ctx.restore();
  ctx.save();
  ctx.beginPath();
  ctx.rect(x0, y0, x1 - x0, y1 - y0);
  ctx.clip(); // text never spills out of its note
  ctx.fillStyle = inkOn(el.color);
  ctx.font = `${el.width}px ${FONT}`;
  ctx.textBaseline = "top";
  const step = el.width * LINE_HEIGHT;
  lines.forEach((line, i) => {
    const shown = cut && i === lines.length - 1 ? `${line}…` : line;
    ctx.fillText(shown, x0 + pad, y0 + pad + i * step + el.width * 0.1);
  });
  ctx.restore();
}

/** Paint one element (an optional `ghost` flag draws it faint, e.g. what the eraser will take). */
export function paint(ctx, el) {
  ctx.save();
  ctx.globalAlpha = alpha(el);
  ctx.strokeStyle = el.color;
  ctx.fillStyle = el.color;
  ctx.lineWidth = el.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  switch (el.tool) {
    case "line":
      polyline(ctx, [first(el), last(el)], el.width);
      break;
    case "arrow":
      arrow(ctx, el);
      break;
    case "rect": {
      const [x0, y0, x1, y1] = normRect(first(el), last(el));
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      break;
    }
    case "ellipse": {
      const [x0, y0, x1, y1] = normRect(first(el), last(el));
      ctx.beginPath();
      ctx.ellipse((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2, 0, 0, Math.PI * 2);
      ctx.stroke();
      break;
    }
    case "text":
      text(ctx, el);
      break;
    case "note":
      note(ctx, el);
      break;
    default:
      polyline(ctx, el.points, el.width);
  }
  ctx.restore();
}

/** A dashed outline around `rect`, `px` screen pixels wide whatever the zoom (`scale`: px per unit). */
export function outlineRect(ctx, rect, scale, { color = "#3451b2", dashed = true, fill = null } = {}) {
  const [x0, y0, x1, y1] = rect;
  ctx.save();
  ctx.lineWidth = 1.5 / scale;
  ctx.strokeStyle = color;
  if (dashed) ctx.setLineDash([5 / scale, 4 / scale]);
  if (fill) {
    ctx.fillStyle = fill;
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
  }
  ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  ctx.restore();
}

/** The square resize handle centred on (x, y), `size` screen pixels. */
export function handle(ctx, [x, y], scale, size) {
  const s = size / scale;
  ctx.save();
  ctx.fillStyle = "#fff";
  ctx.strokeStyle = "#3451b2";
  ctx.lineWidth = 1.5 / scale;
  ctx.fillRect(x - s / 2, y - s / 2, s, s);
  ctx.strokeRect(x - s / 2, y - s / 2, s, s);
  ctx.restore();
}
