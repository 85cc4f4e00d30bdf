// Tiny DOM helpers. Every piece of user data goes through textContent or attributes, never innerHTML,
// so names, titles and file names cannot inject markup (and the CSP forbids inline script anyway).

/**
 * h("button.primary", {type: "submit", onclick: fn}, "Save") -> <button class="primary" ...>Save</button>
 * Attributes starting with "on" become listeners; `dataset` and `hidden`/`disabled` are handled.
 */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
export function uid(prefix = "id") {
  ids += 1;
  return `${prefix}-${ids}`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "always" });
const nearby = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [
  ["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60],
];

// The hub's clock minus this device's, from the Date header of the latest API answer: times the hub
// wrote read right ("now" for what was just saved) even where this device's clock is off.
let serverOffset = 0;

/** Now by the hub's clock, as far as this page knows it (ms since the epoch). */
export function serverNow() {
  return Date.now() + serverOffset;
}

/** Note the hub's clock from an answer's `Date` header (whole seconds; good enough for "ago"). */
export function noteServerDate(header) {
  const at = Date.parse(header || "");
  if (Number.isFinite(at)) serverOffset = at - Date.now();
}

/** "in 3 days", "2 hours ago", "now". A unit is used from 90 % of it on, so 59:59 reads "in 1 hour". */
export function fromNow(iso, now = Date.now() + serverOffset) {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size * 0.9) return relative.format(Math.round(seconds / size), unit);
  }
  return Math.abs(seconds) < 10 ? nearby.format(0, "second") : relative.format(Math.round(seconds), "second");
}

// How often every live time on the page is redrawn: "now" turns into "10 seconds ago" and so on.
const TICK_MS = 5_000;
let ticker = null;

/** Redraw every live time (`timeAgo`) in the page; the page-wide timer calls it. */
export function refreshTimes(root = document) {
  for (const el of root.querySelectorAll("time[data-live]")) el.textContent = liveText(el.dateTime, el.dataset);
}

function liveText(iso, { prefix = "", over = "" }) {
  return over && new Date(iso).getTime() <= serverNow() ? over : `${prefix}${fromNow(iso)}`;
}

/** A <time> reading `prefix` + fromNow(iso) that stays current, with the full date as its tooltip;
 * once `iso` is past it reads `over` instead, when given (a deadline: "Expired", never "Expires now"). */
export function timeAgo(iso, prefix = "", over = "") {
  if (!ticker) ticker = setInterval(refreshTimes, TICK_MS);
  const data = { live: "", prefix, over };
  return h("time", { datetime: iso, title: dateTime(iso), dataset: data }, liveText(iso, data));
}

export function dateTime(iso) {
  return new Date(iso).toLocaleString();
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n;
  let unit = -1;
  do {
    value /= 1024;
    unit += 1;
  } while (value >= 1024 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A skeleton placeholder block list, shown while something loads (never a blank area). */
export function skeleton(lines = 3, label = "Loading…") {
  return h("div.skeleton", { role: "status", "aria-live": "polite", "aria-busy": "true" },
    h("span.visually-hidden", {}, label),
    Array.from({ length: lines }, () => h("div.skeleton-line", { "aria-hidden": "true" })));
}
