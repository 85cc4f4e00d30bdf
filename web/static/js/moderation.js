// Reports and moderation (README "Reports and moderation"). Two halves:
//
// - the Report action every post, comment, profile and space shows to a registered account that does
//   not own it (guests are refused with 403 account_required, so they get no button), opening a dialog
//   with a category and an optional comment; reporting a target again answers the first report (200),
//   which reads the same "thank you";
// - the moderators' page: the report queue (open and resolved, page by page) with Assign to me, Resolve
//   (dismiss, warn, take down, suspend, with a note) and Reopen, and the audit log with its filters.
//
// The page lives at /#moderation: the hub serves the client's index.html for /, not for /moderation,
// and a fragment keeps the page reachable by a reload or a pasted link. Roles are read from GET
// /me/role; the header's link is only a hint (kept per account for the page's life), the page asks
// again, and the hub itself refuses everyone else with 403 moderator_required.
import * as api from "./api.js";
import * as codes from "./codes.js";
import { h, clear, timeAgo, skeleton, uid } from "./dom.js";
import * as session from "./session.js";
import * as social from "./social.js";
import { errorBox, toast } from "./ui.js";

const enc = encodeURIComponent;
const PAGE = 20;

export const MODERATION_PATH = "/#moderation";
export const isModerationRoute = () => location.pathname === "/" && location.hash === "#moderation";

/** The hub's limits (hub/services/moderation.py), in characters as it counts them. */
const COMMENT_MAX = 1000;
const NOTE_MAX = 1000;

const CATEGORIES = [
  ["spam", "Spam"],
  ["abuse", "Abuse or harassment"],
  ["illegal", "Illegal content"],
  ["other", "Something else"],
];
const CATEGORY_LABELS = Object.fromEntries(CATEGORIES);
const TARGET_LABELS = { user: "Account", post: "Post", comment: "Comment", space: "Space" };
// hub/ports/moderation.py AuditAction, in the order a moderator thinks of them.
const AUDIT_ACTIONS = [
  ["report_assigned", "Report assigned"],
  ["report_resolved", "Report resolved"],
  ["report_reopened", "Report reopened"],
  ["post_taken_down", "Post taken down"],
  ["post_restored", "Post restored"],
  ["comment_taken_down", "Comment taken down"],
  ["comment_restored", "Comment restored"],
  ["space_taken_down", "Space taken down"],
  ["space_restored", "Space restored"],
  ["user_flagged", "Account flagged"],
  ["user_warned", "Account warned"],
  ["user_suspended", "Account suspended"],
  ["user_unsuspended", "Suspension lifted"],
  ["role_granted", "Role granted"],
  ["role_revoked", "Role revoked"],
];
const AUDIT_LABELS = Object.fromEntries(AUDIT_ACTIONS);
const RESOLUTIONS = { dismiss: "Dismissed", warn: "Owner warned", takedown: "Taken down", suspend: "Owner suspended" };
const STAFF = new Set(["moderator", "admin"]);

// -- roles -----------------------------------------------------------------------------------------

const roles = new Map(); // account id -> Promise<role>

/** My role ("user" when the hub cannot say): asked once per account unless `fresh`. */
export function role(user = session.user(), { fresh = false } = {}) {
  if (!user) return Promise.resolve("user");
  if (fresh || !roles.has(user.id)) {
    const asked = api.get("/me/role").then((answer) => answer.role);
    roles.set(user.id, asked);
    // A failed answer is asked again next time instead of hiding the link for good.
    asked.catch(() => roles.get(user.id) === asked && roles.delete(user.id));
  }
  return roles.get(user.id);
}

export const isStaff = (value) => STAFF.has(value);

// -- the removed marking ---------------------------------------------------------------------------

/** What the author of a taken-down post or comment reads on it (nobody else is shown it at all). */
export function removedNote(item) {
  if (!item.removed) return null;
  return h("p.removed-note", { role: "note" },
    item.removed_reason ? `Removed by a moderator: ${item.removed_reason}` : "Removed by a moderator.");
}

// -- reporting -------------------------------------------------------------------------------------

const NOT_FOUND = new Set([codes.POST_NOT_FOUND, codes.COMMENT_NOT_FOUND, codes.USER_NOT_FOUND, codes.SPACE_NOT_FOUND]);
const WHAT = { user: "account", post: "post", comment: "comment", space: "space" };

/** "45 seconds", "3 minutes": how long a rate limit asks to wait (seconds while they are few). */
function waitText(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 1));
  if (s < 120) return s === 1 ? "1 second" : `${s} seconds`;
  const m = Math.ceil(s / 60);
  return m === 1 ? "1 minute" : `${m} minutes`;
}

function reportError(error, type) {
  if (!(error instanceof api.ApiError)) return api.describe(error);
  if (error.code === codes.RATE_LIMITED) {
    return `You have sent many reports in a short time. Try again in ${waitText(error.details.retry_after)}.`;
  }
  if (NOT_FOUND.has(error.code)) return `This ${WHAT[type]} is no longer there, so there is nothing to report.`;
  if (error.code === codes.ACCOUNT_REQUIRED) return "Register to report. You keep your spaces and everything else.";
  return api.describe(error);
}

/** A modal form on <dialog> (Escape and the focus trap come with it); removed from the page once closed. */
function formDialog(title, { className = "" } = {}) {
  const titleId = uid("dialog");
  const form = h("form", { novalidate: true });
  const dialog = h(`dialog.dialog${className}`, { "aria-labelledby": titleId },
    h("h2", { id: titleId }, title), form);
  dialog.addEventListener("close", () => dialog.remove());
  const open = () => {
    document.body.append(dialog);
    dialog.showModal();
  };
  return { dialog, form, open, close: () => dialog.close() };
}

/** A textarea with its label and a character count as the hub counts them. */
function countedText({ label, name, max, required = false }) {
  const id = uid("f");
  const countId = uid("f");
  const input = h("textarea.note-input", { id, name, rows: 3, "aria-describedby": countId });
  const count = h("span.char-count", { id: countId, "aria-live": "polite" });
  const labelEl = h("label", { for: id }, label);
  const recount = () => {
    const n = social.chars(input.value.trim());
    count.textContent = `${n} / ${max} characters`;
    count.dataset.over = String(n > max);
    input.setCustomValidity(n > max ? `At most ${max} characters.` : "");
  };
  input.addEventListener("input", recount);
  recount();
  input.required = required;
  return { el: h("div.field", {}, labelEl, input, count), input, labelEl };
}

function openReportDialog({ type, id, onGone }) {
  const { form, open, close } = formDialog(`Report this ${WHAT[type]}`, { className: ".report-dialog" });
  const selectId = uid("f");
  const category = h("select", { id: selectId, name: "category", required: true },
    h("option", { value: "" }, "Choose a reason…"),
    CATEGORIES.map(([value, label]) => h("option", { value }, label)));
  const comment = countedText({ label: "Anything moderators should know (optional)", name: "comment", max: COMMENT_MAX });
  const error = errorBox();
  const send = h("button.primary", { type: "submit" }, "Send report");
  clear(form,
    h("p.meta", {}, "Moderators read every report. Its author is not told who sent it."),
    h("div.field", {}, h("label", { for: selectId }, "Reason"), category),
    comment.el, error,
    h("div.actions", {}, h("button", { type: "button", onclick: close }, "Cancel"), send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    error.show("");
    send.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      // 201 for a new report, 200 for the one this account already sent: thanked alike.
      await api.post("/reports", {
        target_type: type, target_id: id, category: category.value, comment: comment.input.value.trim(),
      });
      const done = h("button.primary", { type: "button", onclick: close }, "Close");
      clear(form,
        h("p.report-done", { role: "status" }, "Reported — thank you."),
        h("p.meta", {}, "A moderator will look at it."),
        h("div.actions", {}, done));
      done.focus();
    } catch (e) {
      error.show(reportError(e, type));
      send.disabled = false;
      if (e instanceof api.ApiError && NOT_FOUND.has(e.code)) onGone?.();
    } finally {
      form.removeAttribute("aria-busy");
    }
  });
  open();
}

/**
 * The Report button for a target, or null where there is none: signed out, a guest, or my own content
 * (`own`). `label` names the target for assistive technology; `onGone()` runs when the hub answers
 * that the target is gone (deleted, or hidden from me meanwhile).
 */
export function reportButton({ type, id, own, label, onGone = null }) {
  if (own || !social.myHandle()) return null;
  return h("button.small.report", {
    type: "button", "aria-label": label, "aria-haspopup": "dialog",
    onclick: () => openReportDialog({ type, id, onGone }),
  }, "Report");
}

// -- the moderation page ---------------------------------------------------------------------------

function refusal(main) {
  clear(main, h("section.card.notice", { role: "alert" },
    h("h1", {}, "This page needs a moderator"),
    h("p", {}, "Reports and the audit log are open to moderators and admins only. "
      + "To tell moderators about something, use Report on it."),
    h("a.button", { href: "/home", "data-link": true }, "Go home")));
}

const refused = (error) => error instanceof api.ApiError && error.code === codes.MODERATOR_REQUIRED;

const names = new Map(); // account id -> Promise<handle | null>

/** An account named by its handle (a link to the profile) once known; its id until then or if hidden. */
function account(id) {
  if (!id) return h("span.meta", {}, "nobody");
  if (id === session.user()?.id) return h("span", {}, "you");
  const el = h("code.account-id", {}, id);
  if (!names.has(id)) names.set(id, social.profile(id).then((p) => p.handle, () => null));
  names.get(id).then((handle) => {
    if (handle) el.replaceWith(h("a", { href: social.profilePath(handle), "data-link": true, title: id }, `@${handle}`));
  });
  return el;
}

function when(iso) {
  return timeAgo(iso);
}

function fact(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

/** Which resolutions fit the report's target: an account is suspended, not taken down; no owner, no warning. */
function resolutionsFor(report) {
  const owner = Boolean(report.target_owner_id);
  const what = WHAT[report.target_type];
  return [
    ["dismiss", "Dismiss: no action"],
    owner ? ["warn", "Warn the owner"] : null,
    report.target_type !== "user" ? ["takedown", `Take the ${what} down`] : null,
    owner ? ["suspend", report.target_type === "user" ? "Suspend the account" : "Suspend the owner"] : null,
  ].filter(Boolean);
}

/**
 * A dialog whose form sends one report action; `onDone(report)` gets the hub's answer, `failed(error)`
 * takes what concerns the page or the entry and says whether it did (else the dialog shows the error).
 */
function reportActionDialog(title, { body, submitLabel, send, onDone, failed }) {
  const { form, open, close } = formDialog(title);
  const error = errorBox();
  const submit = h("button.primary", { type: "submit" }, submitLabel);
  clear(form, body, error,
    h("div.actions", {}, h("button", { type: "button", onclick: close }, "Cancel"), submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    error.show("");
    submit.disabled = true;
    try {
      const done = await send();
      close();
      onDone(done);
    } catch (e) {
      submit.disabled = false;
      if (!failed(e)) error.show(api.describe(e));
    }
  });
  open();
}

function openResolveDialog(report, callbacks) {
  const selectId = uid("f");
  const action = h("select", { id: selectId, name: "action" },
    resolutionsFor(report).map(([value, label]) => h("option", { value }, label)));
  const note = countedText({ label: "Note", name: "note", max: NOTE_MAX });
  const hint = h("p.meta", {});
  // The hub wants a reason for everything but a dismissal: it is the author's "removed" text, the
  // warning's wording, the suspension's reason.
  const sync = () => {
    const dismiss = action.value === "dismiss";
    note.input.required = !dismiss;
    note.labelEl.textContent = dismiss ? "Note (optional)" : "Note (required)";
    hint.textContent = action.value === "takedown" ? "Its author sees the note as the reason for the removal."
      : action.value === "warn" ? "The owner receives the note as a warning."
        : action.value === "suspend" ? "The account is signed out everywhere until a moderator lifts it." : "";
  };
  action.addEventListener("change", sync);
  sync();
  reportActionDialog("Resolve the report", {
    ...callbacks,
    submitLabel: "Resolve",
    body: [
      h("p.report-target", {}, `${TARGET_LABELS[report.target_type]}: `, report.target_preview ?? "no longer available"),
      h("div.field", {}, h("label", { for: selectId }, "Action"), action),
      hint, note.el,
    ],
    send: () => api.post(`/moderation/reports/${enc(report.id)}/resolve`, {
      action: action.value, note: note.input.value.trim(),
    }),
  });
}

function openReopenDialog(report, callbacks) {
  const note = countedText({ label: "Note (optional)", name: "note", max: NOTE_MAX });
  reportActionDialog("Reopen the report", {
    ...callbacks,
    submitLabel: "Reopen",
    body: note.el,
    send: () => api.post(`/moderation/reports/${enc(report.id)}/reopen`, { note: note.input.value.trim() }),
  });
}

/**
 * One report in the queue. `changed(report)` runs after an action with the hub's answer; `failed(error)`
 * handles what concerns the whole page or the entry (no longer a moderator, the report gone) and says
 * whether it did.
 */
function reportItem(initial, remove, { changed, failed }) {
  let report = initial;
  const li = h("li.report", { dataset: { reportId: report.id } });

  const assign = async (button) => {
    button.disabled = true;
    try {
      report = await api.post(`/moderation/reports/${enc(report.id)}/assign`);
      render();
      toast("The report is yours.");
      changed(report);
    } catch (e) {
      button.disabled = false;
      if (!failed(e, remove)) toast(api.describe(e), "error");
    }
  };
  // Resolving moves an open report to the other tab, reopening a resolved one back.
  const moved = (message) => ({
    onDone: (done) => {
      remove();
      toast(message);
      changed(done);
    },
    failed: (e) => failed(e, remove),
  });

  function render() {
    const open = report.status === "open";
    const preview = report.target_preview ?? null;
    const removedLabel = report.target_type === "user" ? "Suspended" : "Taken down";
    li.dataset.status = report.status;
    li.dataset.targetType = report.target_type;
    li.dataset.targetRemoved = String(report.target_removed);
    clear(li,
      h("header.report-head", {},
        h("span.badge.target-type", {}, TARGET_LABELS[report.target_type] || report.target_type),
        h("span.badge.category", {}, CATEGORY_LABELS[report.category] || report.category),
        report.target_removed ? h("span.badge.removed", {}, removedLabel) : null,
        h("span.meta", {}, " reported ", when(report.created_at))),
      h("blockquote.report-preview", { "aria-label": "Reported content" },
        preview === null ? h("span.meta", {}, "No longer available") : preview),
      h("dl.facts", {},
        fact("Target id", h("code", {}, report.target_id)),
        fact("Owner", account(report.target_owner_id)),
        fact("Reported by", account(report.reporter_id)),
        fact("Comment", report.comment ? h("span.report-comment", {}, report.comment) : h("span.meta", {}, "none")),
        fact("Assigned to", h("span.assignee", {}, account(report.assignee_id))),
        open ? null : fact("Resolution",
          h("span.resolution", {}, RESOLUTIONS[report.resolution_action] || "Resolved",
            report.resolution_note ? `: ${report.resolution_note}` : ""),
          report.resolved_at ? [" · ", when(report.resolved_at)] : null)),
      h("div.actions", {},
        open && report.assignee_id !== session.user()?.id
          ? h("button.small", { type: "button", onclick: (event) => assign(event.currentTarget) }, "Assign to me") : null,
        open ? h("button.small.primary", {
          type: "button", "aria-haspopup": "dialog",
          onclick: () => openResolveDialog(report, moved("Report resolved.")),
        }, "Resolve") : null,
        open ? null : h("button.small", {
          type: "button", "aria-haspopup": "dialog",
          onclick: () => openReopenDialog(report, moved("Report reopened.")),
        }, "Reopen")));
  }
  render();
  return li;
}

function auditItem(entry) {
  const details = Object.entries(entry.details || {});
  return h("li.audit-entry", { dataset: { action: entry.action, auditId: entry.id } },
    h("div.audit-head", {},
      when(entry.at), " ",
      h("strong.audit-actor", {}, entry.actor_id
        ? h("a", { href: social.profilePath(entry.actor), "data-link": true, title: entry.actor_id }, `@${entry.actor}`)
        : entry.actor), " ",
      h("span.audit-action", { title: entry.action }, AUDIT_LABELS[entry.action] || entry.action), " ",
      h("span.meta", {}, TARGET_LABELS[entry.target_type] || entry.target_type, " "),
      h("code.audit-target", {}, entry.target_id)),
    entry.reason ? h("p.audit-reason", {}, "Reason: ", entry.reason) : null,
    details.length ? h("p.meta.audit-details", {},
      details.map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`).join(" · "))
      : null);
}

/** The report queue with its Open and Resolved tabs. */
function reportQueue({ isCurrent, changed, failed }) {
  const panelId = uid("reports");
  const holder = h("div.tab-panel", { id: panelId, role: "tabpanel" });
  const tabs = {};
  const labels = { open: "Open", resolved: "Resolved" };
  const statuses = Object.keys(labels);
  let list = null;
  const select = (status, focus = false) => {
    for (const [key, tab] of Object.entries(tabs)) {
      tab.setAttribute("aria-selected", String(key === status));
      tab.tabIndex = key === status ? 0 : -1;
    }
    holder.setAttribute("aria-labelledby", tabs[status].id);
    list = social.pagedList({
      path: `/moderation/reports?status=${status}`, label: `${labels[status]} reports`, isCurrent, limit: PAGE,
      empty: status === "open" ? "No open reports. Nothing waits for a moderator." : "No resolved reports yet.",
      item: (report, remove) => reportItem(report, remove, { changed, failed }),
    });
    clear(holder, list.el);
    if (focus) tabs[status].focus();
  };
  for (const status of statuses) {
    tabs[status] = h("button.tab", {
      type: "button", role: "tab", id: uid("tab"), "aria-controls": panelId, onclick: () => select(status),
      onkeydown: (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        event.preventDefault();
        select(statuses[(statuses.indexOf(status) + step + statuses.length) % statuses.length], true);
      },
    }, labels[status]);
  }
  select("open");
  return h("section.card.report-queue", { "aria-labelledby": "reports-title" },
    h("h2", { id: "reports-title" }, "Reports"),
    h("div.tabs", { role: "tablist", "aria-label": "Reports by status" }, Object.values(tabs)),
    holder);
}

/** The audit log, newest first, with its filters (applied when the form is sent). */
function auditLog({ isCurrent }) {
  const actionId = uid("f");
  const targetId = uid("f");
  const actorId = uid("f");
  const action = h("select", { id: actionId, name: "action" },
    h("option", { value: "" }, "All actions"),
    AUDIT_ACTIONS.map(([value, label]) => h("option", { value }, label)));
  const target = h("input", { id: targetId, name: "target", maxlength: 64, autocomplete: "off", spellcheck: false });
  const actor = h("input", { id: actorId, name: "actor", maxlength: 64, autocomplete: "off", spellcheck: false });
  const holder = h("div.audit-results");
  let list = null;
  const show = () => {
    const params = new URLSearchParams();
    for (const [key, input] of [["action", action], ["target", target], ["actor", actor]]) {
      if (input.value.trim()) params.set(key, input.value.trim());
    }
    const query = params.toString();
    list = social.pagedList({
      path: `/moderation/audit${query ? `?${query}` : ""}`, label: "Audit entries", isCurrent, limit: PAGE,
      empty: query ? "No entries match these filters." : "Nothing in the audit log yet.", item: auditItem,
    });
    clear(holder, list.el);
  };
  const form = h("form.audit-filters", { "aria-label": "Filter the audit log" },
    h("div.row", {},
      h("div.field", {}, h("label", { for: actionId }, "Action"), action),
      h("div.field", {}, h("label", { for: targetId }, "Target id"), target),
      h("div.field", {}, h("label", { for: actorId }, "Actor id"), actor)),
    h("div.actions", {},
      h("button.primary", { type: "submit" }, "Show"),
      h("button", {
        type: "button", onclick: () => {
          form.reset();
          show();
        },
      }, "Clear filters")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show();
  });
  show();
  return {
    el: h("section.card.audit-log", { "aria-labelledby": "audit-title" },
      h("h2", { id: "audit-title" }, "Audit log"), form, holder),
    reload: () => list.reload(),
  };
}

/** The moderation page: a non-moderator is told it needs one; the hub refuses them anyway. */
export function moderationView({ main, isCurrent }) {
  clear(main, skeleton(4, "Loading the moderation page…"));
  const failed = (error, remove) => {
    if (!isCurrent()) return true;
    if (refused(error)) {
      refusal(main);
      return true;
    }
    if (error instanceof api.ApiError && error.code === codes.REPORT_NOT_FOUND) {
      remove?.();
      toast("This report is gone.", "error");
      return true;
    }
    return false;
  };
  (async () => {
    let mine;
    try {
      mine = await role(session.user(), { fresh: true });
    } catch (error) {
      if (!isCurrent()) return;
      clear(main, h("section.card.notice", { role: "alert" }, h("h1", {}, "Cannot open the moderation page"),
        h("p", {}, api.describe(error)), h("a.button", { href: "/home", "data-link": true }, "Go home")));
      return;
    }
    if (!isCurrent()) return;
    if (!isStaff(mine)) {
      refusal(main);
      return;
    }
    const audit = auditLog({ isCurrent });
    // Every action is an audit entry: the log below shows it at once.
    const changed = () => audit.reload();
    clear(main, h("section.moderation", { "aria-labelledby": "moderation-title", dataset: { role: mine } },
      h("h1", { id: "moderation-title" }, "Moderation"),
      reportQueue({ isCurrent, changed, failed }),
      audit.el));
  })();
  return null;
}
