// Shared UI pieces: toasts, the connection banner, confirm dialogs, inline error boxes.
import { h, clear } from "./dom.js";

/**
 * A short message in the live region; errors are announced assertively and stay a little longer.
 * `action: {label, onClick}` adds a button (an "Undo", say) that runs it and dismisses the toast;
 * such a toast stays longer, so there is time to reach it. Returns the toast's element.
 */
export function toast(message, kind = "info", { action = null, timeout = null } = {}) {
  const region = document.getElementById("toasts");
  if (!region) return null;
  const item = h(`div.toast.toast-${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
  if (action) {
    item.append(h("button.toast-action", {
      type: "button",
      onclick: () => {
        item.remove();
        action.onClick();
      },
    }, action.label));
  }
  const close = h("button.toast-close", { type: "button", "aria-label": "Dismiss", onclick: () => item.remove() }, "×");
  item.append(close);
  region.append(item);
  setTimeout(() => item.remove(), timeout ?? (action ? 15000 : kind === "error" ? 8000 : 4000));
  return item;
}

/** The page-wide connection banner ("Reconnecting… attempt 3"). `null` hides it. */
export function banner(message, kind = "warning") {
  const el = document.getElementById("banner");
  if (!el) return;
  if (!message) {
    el.hidden = true;
    el.dataset.state = "ok";
    clear(el);
    return;
  }
  el.hidden = false;
  el.dataset.state = kind;
  clear(el, message);
}

/** An error box for a form or panel; returns the element so callers can place it. */
export function errorBox() {
  const el = h("p.error-box", { role: "alert", hidden: true });
  return Object.assign(el, {
    show(message) {
      el.hidden = !message;
      el.textContent = message || "";
    },
  });
}

/** A modal confirm built on <dialog> (focus trapping and Escape come with it). Resolves true/false. */
export function confirmDialog(message, { confirmLabel = "Confirm", danger = false } = {}) {
  return new Promise((resolve) => {
    const ok = h(`button.${danger ? "danger" : "primary"}`, { type: "submit", value: "ok" }, confirmLabel);
    const dialog = h("dialog.dialog", { "aria-label": message },
      h("form", { method: "dialog" },
        h("p", {}, message),
        h("div.actions", {}, h("button", { type: "submit", value: "cancel" }, "Cancel"), ok)));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}

/** A modal choice among `choices` ([{value, label, kind}], the last one focused); resolves the value
 * chosen, or "" for Escape. */
export function chooseDialog(title, message, choices) {
  return new Promise((resolve) => {
    const buttons = choices.map(({ value, label, kind }) =>
      h(`button${kind ? `.${kind}` : ""}`, { type: "submit", value }, label));
    const dialog = h("dialog.dialog", { "aria-label": title },
      h("form", { method: "dialog" },
        h("h2", {}, title),
        h("p", {}, message),
        h("div.actions", {}, buttons)));
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue || "");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    buttons[buttons.length - 1]?.focus();
  });
}

/** Copy text to the clipboard, falling back to selecting an input for the user. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied to the clipboard.");
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
    }
    toast("Press Ctrl+C (⌘C) to copy the selected link.");
    return false;
  }
}
