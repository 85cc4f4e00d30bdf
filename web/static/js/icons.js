// Icons as inline SVG, drawn in the text's colour (currentColor) and at its size (app.css `.icon`),
// so they look the same everywhere: no emoji font needed, none of its platform-to-platform changes.
// Built with createElementNS, never from markup strings. An icon that stands alone says what it is
// (`label`, role=img); one beside its own words is hidden from assistive technology.

const SVG = "http://www.w3.org/2000/svg";

// 24 × 24 outlines, stroked (a filled variant fills them too).
const SHAPES = {
  file: [["path", { d: "M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z" }], ["path", { d: "M14 3v5h5" }]],
  image: [
    ["rect", { x: "3", y: "4", width: "18", height: "16", rx: "2" }],
    ["circle", { cx: "9", cy: "10", r: "2" }],
    ["path", { d: "m21 16-5-5L5 20" }],
  ],
  bell: [["path", { d: "M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" }], ["path", { d: "M10.3 21a2 2 0 0 0 3.4 0" }]],
  heart: [
    ["path", { d: "M20.8 4.6a5.5 5.5 0 0 0-7.8 0L12 5.7l-1-1.1a5.5 5.5 0 0 0-7.8 7.8L12 21l8.8-8.6a5.5 5.5 0 0 0 0-7.8z" }],
  ],
};

/** `icon("bell")`: an <svg class="icon icon-bell">; `{label}` names it (otherwise aria-hidden), `{filled}` fills it. */
export function icon(name, { label = null, filled = false } = {}) {
  const shapes = SHAPES[name];
  if (!shapes) throw new Error(`no icon ${name}`);
  const svg = document.createElementNS(SVG, "svg");
  const attrs = {
    class: `icon icon-${name}`, viewBox: "0 0 24 24", width: "24", height: "24", fill: filled ? "currentColor" : "none",
    stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round",
    focusable: "false",
  };
  for (const [key, value] of Object.entries(attrs)) svg.setAttribute(key, value);
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  if (filled) svg.dataset.filled = "true";
  for (const [tag, shapeAttrs] of shapes) {
    const shape = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(shapeAttrs)) shape.setAttribute(key, value);
    svg.append(shape);
  }
  return svg;
}
