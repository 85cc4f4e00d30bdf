// Field-level messages. Each checked input gets a message slot under it: the browser's own checks
// (required, minlength, maxlength, pattern, a custom validity) fill it before anything is sent, and
// the hub's 422 `validation_failed` (`details.fields`: a message per field name) fills it after. While
// it shows a message the input is aria-invalid and described by it; editing the input clears it.
import * as api from "./api.js";
import * as codes from "./codes.js";
import { h, uid } from "./dom.js";

const slots = new WeakMap(); // input -> its message element

/** Set aria-invalid from what the input shows: a message in its slot, or a custom validity (a counter
 * past its limit, say) that stays until the value is mended. */
export function syncInvalid(input) {
  const slot = slots.get(input);
  const invalid = Boolean(slot && !slot.hidden) || input.validity.customError;
  if (invalid) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

/** The message slot of `input`, for the caller to place right under the field. */
export function messageSlot(input) {
  const slot = h("p.field-error", { id: uid("error"), role: "alert", hidden: true });
  slots.set(input, slot);
  input.addEventListener("input", () => setMessage(input, ""));
  return slot;
}

/** Show `message` under `input` ("" clears it); false when the input has no slot. */
export function setMessage(input, message) {
  const slot = slots.get(input);
  if (!slot) return false;
  slot.textContent = message;
  slot.hidden = !message;
  const ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter((id) => id && id !== slot.id);
  if (message) ids.push(slot.id);
  if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
  else input.removeAttribute("aria-describedby");
  syncInvalid(input);
  return true;
}

/** A message as a sentence: the hub's read "must be 8 to 128 bytes" (to follow the field's name). */
function sentence(text) {
  const s = String(text).trim();
  if (!s) return "";
  const first = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function browserMessage(input) {
  // A pattern's own explanation, when the field has one, says more than "match the requested format".
  if (input.validity.patternMismatch && input.dataset.hint) return input.dataset.hint;
  return input.validationMessage;
}

/** Before sending: the browser's checks of every field with a slot, shown in the slots; the first
 * field in error gets the focus. False when something is wrong (then nothing should be sent). */
export function checkFields(form) {
  let first = null;
  for (const input of form.elements) {
    if (!slots.has(input) || input.disabled) continue;
    const ok = input.checkValidity();
    setMessage(input, ok ? "" : sentence(browserMessage(input)));
    if (!ok) first ??= input;
  }
  first?.focus();
  return first === null;
}

/** The hub's field messages of a 422 `validation_failed` ({name: message}), or null for any other error. */
export function hubFields(error) {
  if (!(error instanceof api.ApiError) || error.code !== codes.VALIDATION_FAILED) return null;
  const fields = error.details?.fields;
  return fields && typeof fields === "object" && Object.keys(fields).length ? fields : null;
}

/**
 * After a failed request: each of the hub's field messages under the field of that name in `form`
 * (the first of them focused); what no field shows (another error, a field the form does not have)
 * goes to `box` (an errorBox), which is emptied otherwise. `names` maps a hub field to an input
 * name where they differ.
 */
export function showError(form, error, box, names = {}) {
  const fields = hubFields(error);
  if (!fields) {
    box.show(api.describe(error));
    return;
  }
  const rest = [];
  let first = null;
  for (const [name, why] of Object.entries(fields)) {
    const input = form.elements.namedItem(names[name] || name);
    if (input instanceof Element && setMessage(input, sentence(why))) first ??= input;
    else rest.push(`${name.replaceAll("_", " ")} ${why}`);
  }
  box.show(rest.length ? `${error.message} ${rest.join("; ")}.` : "");
  first?.focus();
}

/** The hub's field messages as sentences, one per field, for a place that has no inputs to put them under. */
export function fieldSentences(error) {
  const fields = hubFields(error);
  return fields ? Object.values(fields).map(sentence) : [];
}
