// The notification bell of the signed-in header (README "Notifications"). Its badge is my unread count:
// read from GET /notifications/unread_count when the bell appears and whenever the personal room
// connects again (pushes are live only, so one missed while away is found that way), then kept by the
// `notification {notification, unread_count}` pushes (docs/realtime.md "Personal room") and by the
// answers of read and read-all. Pressing it opens the list, newest activity first, read afresh on every
// opening and page by page with next_cursor; a push for an entry it shows replaces that entry and moves
// it to the top (a group another account joined is news again). Guests have no notifications (403
// account_required), so they get no bell.
import * as api from "./api.js";
import * as codes from "./codes.js";
import { h, clear, timeAgo, skeleton, uid } from "./dom.js";
import { icon } from "./icons.js";
import { MODERATION_PATH } from "./moderation.js";
import { personalSocket } from "./realtime.js";
import * as social from "./social.js";
import { toast } from "./ui.js";

const enc = encodeURIComponent;
const PAGE = 20;
const NOTIFICATION = "notification";

const isGone = (error) => error instanceof api.ApiError && error.code === codes.NOTIFICATION_NOT_FOUND;
const name = (account) => account?.display_name || (account?.handle ? `@${account.handle}` : "Someone");

/** Who a group is, newest first: "Ann", "Ann and Bob", "Ann and 2 others". */
export function who(n) {
  const accounts = n.accounts || [];
  const total = Math.max(Number(n.count) || 0, accounts.length, 1);
  const first = name(accounts[0]);
  if (total === 1) return first;
  if (total === 2 && accounts[1]) return `${first} and ${name(accounts[1])}`;
  return `${first} and ${total - 1} ${total === 2 ? "other" : "others"}`;
}

/** The notification as a sentence (plain text: it is only ever set as a text node). */
export function describe(n) {
  switch (n.type) {
    case "follow": return `${who(n)} followed you`;
    case "follow_request": return `${who(n)} asked to follow you`;
    case "like": return `${who(n)} liked your post`;
    case "comment": return `${who(n)} commented on your post`;
    case "reply": return `${who(n)} replied to your ${n.comment_id ? "comment" : "post"}`;
    case "mention": return n.comment_id ? `${who(n)} mentioned you in a comment` : `${who(n)} mentioned you`;
    case "moderation_warning": return n.note ? `A moderator warned you: ${n.note}` : "A moderator warned you";
    case "report": return `New report from ${who(n)}`;
    default: return "New notification";
  }
}

/**
 * Where an entry leads, or null. The client has no page of its own for a post, so entries about posts
 * only turn read; a follow opens the follower's profile, a follow request mine (it is answered there),
 * a report (moderators get those) the report queue.
 */
function destination(n) {
  if (n.type === "follow" && n.accounts?.[0]) return social.profilePath(n.accounts[0].handle);
  if (n.type === "follow_request" && social.myHandle()) return social.profilePath(social.myHandle());
  if (n.type === "report") return MODERATION_PATH;
  return null;
}

const valid = (n) => Boolean(n && typeof n === "object" && typeof n.id === "string" && typeof n.type === "string");

function createBell(userId, navigate) {
  const panelId = uid("notifications");
  const titleId = `${panelId}-title`;
  const entries = new Map(); // id -> {n, li}
  let unread = null;
  let counted = 0; // bumps with every count learnt, so an older answer never overwrites a newer one
  let cursor = null;
  let generation = 0;
  let markingAll = false;
  let closed = false;

  const count = h("span.bell-count", { "aria-hidden": "true", hidden: true });
  const button = h("button.bell", {
    type: "button", id: "notifications-bell", "aria-label": "Notifications", "aria-expanded": "false",
    "aria-controls": panelId,
  }, h("span.bell-icon", { "aria-hidden": "true" }, icon("bell")), count);
  // The count, said when it changes (the button's own name is read only when it is focused).
  const said = h("span.visually-hidden", { role: "status", "aria-live": "polite" });
  const list = h("ul.notification-list", { "aria-label": "Notifications" });
  const status = h("div.list-status");
  const more = h("button.small", { type: "button", hidden: true }, "Load more");
  // aria-disabled, not disabled: the button keeps the focus it has when pressing it leaves nothing unread.
  const markAll = h("button.small.mark-all", { type: "button", "aria-disabled": "true" }, "Mark all read");
  const panel = h("section.card.notifications-panel", { id: panelId, "aria-labelledby": titleId, hidden: true },
    h("div.notifications-head", {}, h("h2", { id: titleId }, "Notifications"), markAll),
    status, list, more);
  const el = h("div.notifications", {}, button, said, panel);

  const showCount = () => {
    const n = unread ?? 0;
    count.hidden = n === 0;
    count.textContent = n > 99 ? "99+" : String(n);
    count.dataset.count = String(n);
    button.setAttribute("aria-label", n ? `Notifications, ${n} unread` : "Notifications");
    markAll.setAttribute("aria-disabled", String(markingAll || n === 0));
  };
  const setCount = (value) => {
    if (!Number.isInteger(value) || value < 0) return;
    counted += 1;
    const changed = value !== unread;
    unread = value;
    showCount();
    if (changed) said.textContent = value ? `${value} unread notification${value === 1 ? "" : "s"}` : "No unread notifications";
  };
  // A guest (a session older than its registration, say) has none: the bell goes.
  const refused = (error) => {
    if (!social.isAccountRequired(error)) return false;
    el.hidden = true;
    return true;
  };

  const refreshCount = async () => {
    const asked = counted;
    try {
      const answer = await api.get("/notifications/unread_count");
      if (!closed && asked === counted) setCount(answer.unread_count);
    } catch (error) {
      // Anything else is mended by the next push or reconnect.
      if (!closed) refused(error);
    }
  };

  const showEmpty = () => clear(status, entries.size ? null : h("p.empty", {}, "No notifications yet."));

  const setRead = (item, read) => {
    item.n = { ...item.n, read };
    item.li.dataset.read = String(read);
    item.label.hidden = read;
  };

  const open = async (id) => {
    const item = entries.get(id);
    if (!item) return;
    const where = destination(item.n);
    if (!item.n.read) {
      setRead(item, true);
      api.post(`/notifications/${enc(id)}/read`).then((answer) => {
        if (!closed) setCount(answer.unread_count);
      }, (error) => {
        if (closed) return;
        if (isGone(error)) {
          remove(id);
          refreshCount();
        } else if (!refused(error)) {
          if (entries.get(id) === item) setRead(item, false);
          toast(api.describe(error), "error");
        }
      });
    }
    if (where) {
      hide();
      navigate(where);
    }
  };

  const entry = (n) => {
    const label = h("span.visually-hidden.unread-label", { hidden: n.read }, "Unread: ");
    const li = h("li.notification", { dataset: { notificationId: n.id, type: n.type, read: String(Boolean(n.read)) } },
      h("button.notification-open", { type: "button", onclick: () => open(n.id) },
        label,
        h("span.notification-text", {}, describe(n)),
        h("span.meta", {}, timeAgo(n.updated_at))));
    return { n: { ...n, read: Boolean(n.read) }, li, label };
  };

  const remove = (id) => {
    entries.get(id)?.li.remove();
    entries.delete(id);
    showEmpty();
  };

  /** A pushed notification: it replaces its entry, if shown, and goes on top either way. */
  const upsert = (n) => {
    const old = entries.get(n.id);
    const hadFocus = Boolean(old?.li.contains(document.activeElement));
    old?.li.remove();
    const item = entry(n);
    entries.set(n.id, item);
    list.prepend(item.li);
    if (hadFocus) item.li.querySelector("button")?.focus();
    showEmpty();
  };

  const load = async () => {
    const mine = generation;
    more.disabled = true;
    try {
      const page = await api.get(`/notifications?limit=${PAGE}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      if (closed || mine !== generation) return;
      // A push that came while this page was read is already on top, and newer than what the page says.
      for (const n of page.items.filter(valid)) {
        if (entries.has(n.id)) continue;
        const item = entry(n);
        entries.set(n.id, item);
        list.append(item.li);
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      showEmpty();
    } catch (error) {
      if (closed || mine !== generation || refused(error)) return;
      clear(status, h("p.error-box", { role: "alert" }, api.describe(error)),
        h("button.small", { type: "button", onclick: () => load() }, "Try again"));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);

  const reload = () => {
    generation += 1;
    cursor = null;
    entries.clear();
    clear(list);
    more.hidden = true;
    clear(status, skeleton(2, "Loading notifications…"));
    return load();
  };

  markAll.addEventListener("click", async () => {
    if (markAll.getAttribute("aria-disabled") === "true") return;
    // Only what was shown when asked: a push answered meanwhile may be news the hub still counts.
    const shown = [...entries.values()];
    markingAll = true;
    showCount();
    try {
      const answer = await api.post("/notifications/read-all");
      if (closed) return;
      for (const item of shown) if (entries.get(item.n.id) === item) setRead(item, true);
      setCount(answer.unread_count);
    } catch (error) {
      if (!closed && !refused(error)) toast(api.describe(error), "error");
    } finally {
      markingAll = false;
      showCount();
    }
  });

  const isOpen = () => !panel.hidden;
  const show = () => {
    panel.hidden = false;
    button.setAttribute("aria-expanded", "true");
    reload();
  };
  const hide = () => {
    if (!isOpen()) return;
    panel.hidden = true;
    button.setAttribute("aria-expanded", "false");
    // Answers still on their way belong to a list nobody sees; the next opening reads it again.
    generation += 1;
  };
  button.addEventListener("click", () => (isOpen() ? hide() : show()));
  // Escape closes the open list wherever the focus is (a press that removed its button leaves it on the body).
  const escape = (event) => {
    if (event.key !== "Escape" || !isOpen() || event.defaultPrevented) return;
    if (document.activeElement !== document.body && !el.contains(document.activeElement)) return;
    event.preventDefault();
    hide();
    button.focus();
  };
  document.addEventListener("keydown", escape);
  const outside = (event) => {
    if (isOpen() && !el.contains(event.target)) hide();
  };
  document.addEventListener("click", outside);

  const stop = personalSocket((event, payload) => {
    if (event !== NOTIFICATION || !payload || typeof payload !== "object" || closed) return;
    if (valid(payload.notification) && isOpen()) upsert(payload.notification);
    setCount(payload.unread_count);
  }, (connected) => {
    el.dataset.live = connected ? "on" : "off";
    if (connected && !closed) refreshCount();
  });

  showCount();
  refreshCount();
  return {
    userId,
    el,
    close() {
      closed = true;
      generation += 1;
      stop();
      document.removeEventListener("click", outside);
      document.removeEventListener("keydown", escape);
      el.remove();
    },
  };
}

let bell = null;

/**
 * Keep the bell in `slot` for `user`: none when signed out or a guest, the same one across renders of
 * the same account (its open list and its connection survive navigation), a new one for another account.
 */
export function notificationBell(slot, user, { navigate }) {
  if (!slot) return;
  const wanted = user && !user.is_guest ? user.id : null;
  if (bell && bell.userId === wanted) return;
  bell?.close();
  bell = null;
  clear(slot);
  if (!wanted) return;
  bell = createBell(wanted, navigate);
  slot.append(bell.el);
}
