// Sign in, register, or continue as a guest. A guest who registers later keeps their spaces
// (the hub upgrades the guest account when the register request carries the guest's token).
import * as api from "../api.js";
import { h, clear, uid } from "../dom.js";
import * as fields from "../fields.js";
import * as session from "../session.js";
import { errorBox } from "../ui.js";

// The hub's limits (hub/services/identity.py): checked here first, so the common mistakes are told
// before anything is sent; the hub's own answer (a reserved name, say) lands under the same field.
const USERNAME = { required: true, minlength: 3, maxlength: 32, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*",
  dataset: { hint: "3 to 32 characters: letters, digits, “_”, “.” or “-”, starting with a letter or a digit." } };
const DISPLAY_NAME = { required: true, maxlength: 64, autocomplete: "nickname" };

function field(label, attrs) {
  const id = uid("f");
  const input = h("input", { id, ...attrs });
  return h("div.field", {}, h("label", { for: id }, label), input, fields.messageSlot(input));
}

function form(title, rows, submitLabel, submit) {
  const error = errorBox();
  const button = h("button.primary", { type: "submit" }, submitLabel);
  const el = h("form.card.auth-form", { "aria-label": title, novalidate: true }, ...rows, error, button);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.show("");
    if (!fields.checkFields(el)) return;
    button.disabled = true;
    el.setAttribute("aria-busy", "true");
    try {
      const values = Object.fromEntries(new FormData(el).entries());
      await submit(values);
    } catch (e) {
      fields.showError(el, e, error);
      button.disabled = false;
      el.removeAttribute("aria-busy");
    }
  });
  return el;
}

export function authView({ main }, { reason, onDone, initial = "guest" }) {
  const done = (tokens) => {
    session.save(tokens);
    onDone();
  };
  const guestToken = () => {
    const current = session.current();
    return current?.user?.is_guest ? { headers: { Authorization: `Bearer ${current.access_token}` } } : {};
  };
  const panels = {
    guest: form("Continue as guest", [
      field("Display name", { name: "display_name", ...DISPLAY_NAME }),
    ], "Continue as guest", async (v) => done(await api.post("/auth/guest", v, { auth: false }))),
    login: form("Sign in", [
      field("Username", { name: "username", required: true, maxlength: 64, autocomplete: "username" }),
      field("Password", { name: "password", type: "password", required: true, maxlength: 256,
        autocomplete: "current-password" }),
    ], "Sign in", async (v) => done(await api.post("/auth/login", v, { auth: false }))),
    register: form("Create an account", [
      field("Username", { name: "username", ...USERNAME, autocomplete: "username" }),
      field("Display name", { name: "display_name", ...DISPLAY_NAME }),
      field("Password", { name: "password", type: "password", required: true, minlength: 8, maxlength: 128,
        autocomplete: "new-password" }),
    ], "Create account", async (v) => done(await api.post("/auth/register", v, { auth: false, ...guestToken() }))),
  };
  const labels = { guest: "Continue as guest", login: "Sign in", register: "Register" };
  const tabs = {};
  const holder = h("div.tab-panel", { role: "tabpanel" });
  const select = (name, focus = false) => {
    for (const [key, tab] of Object.entries(tabs)) {
      tab.setAttribute("aria-selected", String(key === name));
      tab.tabIndex = key === name ? 0 : -1;
    }
    holder.setAttribute("aria-labelledby", tabs[name].id);
    clear(holder, panels[name]);
    if (focus) tabs[name].focus();
  };
  const names = Object.keys(panels);
  for (const name of names) {
    tabs[name] = h("button.tab", {
      type: "button", role: "tab", id: uid("tab"), onclick: () => select(name),
      onkeydown: (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        event.preventDefault();
        select(names[(names.indexOf(name) + step + names.length) % names.length], true);
      },
    }, labels[name]);
  }
  clear(main,
    h("section.auth", { "aria-labelledby": "auth-title" },
      h("h1", { id: "auth-title" }, "Welcome to Collab Hub"),
      h("p.lead", {}, reason || "Draw, write and share files together in real time."),
      h("div.tabs", { role: "tablist", "aria-label": "How to continue" }, Object.values(tabs)),
      holder));
  select(initial);
  return null;
}
