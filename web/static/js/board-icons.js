// Toolbar icons as inline SVG built with DOM APIs: no icon font, no emoji font, nothing to fetch,
// and nothing the CSP refuses (presentation attributes are not inline styles).
const SVG = "http://www.w3.org/2000/svg";

// Each icon: [tag, attributes] on a 24 x 24 grid, drawn with the button's text colour.
const ICONS = {
  select: [["path", { d: "M6 3l12 9-5.5 1.2L10 19z" }]],
  hand: [["path", { d: "M8 12V5.5a1.5 1.5 0 0 1 3 0V11m0-6.5a1.5 1.5 0 0 1 3 0V11m0-5a1.5 1.5 0 0 1 3 0v8a7 7 0 0 1-7 7h-.5a6 6 0 0 1-5-2.7L3.3 14.6a1.5 1.5 0 0 1 2.4-1.8L8 15" }]],
  pen: [["path", { d: "M4 20l1-4L16 5l3 3L8 19z" }], ["path", { d: "M14 7l3 3" }]],
  highlighter: [["path", { d: "M9 14l6-9 4 3-6 9z" }], ["path", { d: "M9 14l-1 3 3 1 2-1" }], ["path", { d: "M4 21h8" }]],
  line: [["path", { d: "M5 19L19 5" }]],
  rect: [["rect", { x: "4", y: "6", width: "16", height: "12", rx: "1.5" }]],
  ellipse: [["ellipse", { cx: "12", cy: "12", rx: "8.5", ry: "6.5" }]],
  arrow: [["path", { d: "M5 19L19 5" }], ["path", { d: "M10 5h9v9" }]],
  text: [["path", { d: "M5 7V5h14v2" }], ["path", { d: "M12 5v14" }], ["path", { d: "M9 19h6" }]],
  note: [["path", { d: "M5 4h14v10l-6 6H5z" }], ["path", { d: "M13 20v-6h6" }]],
  eraser: [["path", { d: "M8 19l-4-4a1.5 1.5 0 0 1 0-2l8.5-8.5a1.5 1.5 0 0 1 2 0L20 10a1.5 1.5 0 0 1 0 2l-7 7z" }], ["path", { d: "M9 19h11" }], ["path", { d: "M9 8l7 7" }]],
  undo: [["path", { d: "M9 15L4 10l5-5" }], ["path", { d: "M4 10h10a6 6 0 0 1 0 12h-3" }]],
  redo: [["path", { d: "M15 15l5-5-5-5" }], ["path", { d: "M20 10H10a6 6 0 0 0 0 12h3" }]],
  zoomIn: [["circle", { cx: "11", cy: "11", r: "7" }], ["path", { d: "M21 21l-5-5M8 11h6M11 8v6" }]],
  zoomOut: [["circle", { cx: "11", cy: "11", r: "7" }], ["path", { d: "M21 21l-5-5M8 11h6" }]],
  fit: [["path", { d: "M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5" }], ["rect", { x: "9", y: "9", width: "6", height: "6" }]],
  history: [["path", { d: "M3 12a9 9 0 1 0 3-6.7L3 8" }], ["path", { d: "M3 3v5h5" }], ["path", { d: "M12 7v5l3 2" }]],
};

/** An <svg> icon, hidden from assistive technology (its button carries the label). */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  const attrs = {
    viewBox: "0 0 24 24", width: "20", height: "20", fill: "none", stroke: "currentColor", "stroke-width": "2",
    "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", focusable: "false", class: "icon",
  };
  for (const [key, value] of Object.entries(attrs)) svg.setAttribute(key, value);
  for (const [tag, shape] of ICONS[name] || []) {
    const child = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(shape)) child.setAttribute(key, value);
    svg.append(child);
  }
  return svg;
}
