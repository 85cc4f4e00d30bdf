// Profiles and the social graph over the REST API (README "Social API"), and the pieces the profile
// and home screens share: a person's line in a list, a list paged with next_cursor, and the prompt a
// guest sees where a registered account has buttons.
import * as api from "./api.js";
import * as codes from "./codes.js";
import { h, clear, skeleton } from "./dom.js";
import * as session from "./session.js";

const enc = encodeURIComponent;

/** The hub's limit on a bio, in characters (code points, as the hub counts them). */
export const BIO_MAX = 500;
/** Characters as the hub counts them: `"😀".length` is 2 in JavaScript but one character there. */
export const chars = (text) => [...text].length;

export const profileByHandle = (handle) => api.get(`/users/by-handle/${enc(handle)}`);
export const profile = (userId) => api.get(`/users/${enc(userId)}`);
export const relationship = (userId) => api.get(`/users/${enc(userId)}/relationship`);
/** `action` is follow, unfollow, block, unblock, mute or unmute; answers the new relationship. */
export const act = (userId, action) => api.post(`/users/${enc(userId)}/${action}`);
export const updateProfile = (userId, changes) => api.patch(`/users/${enc(userId)}`, changes);
/** `answer` is authorize or reject; answers my relationship to the requester. */
export const answerRequest = (requestId, answer) => api.post(`/follow-requests/${enc(requestId)}/${answer}`);

export const profilePath = (handle) => `/u/${enc(handle)}`;
export const isGuest = () => Boolean(session.user()?.is_guest);
/** The signed-in account's handle (its username); guests have no profile. */
export const myHandle = () => (session.user() && !isGuest() ? session.user().username : null);

export const isAccountRequired = (error) => error instanceof api.ApiError && error.code === codes.ACCOUNT_REQUIRED;
/** A missing account and one that blocks us answer alike, so both read "not found". */
export const isUserGone = (error) => error instanceof api.ApiError && error.code === codes.USER_NOT_FOUND;

/** One person in a list: name (a link to the profile), handle, locked badge, then `extra`. */
export function personItem(person, extra = null) {
  return h("li.person", { dataset: { userId: person.id } },
    h("a.person-name", { href: profilePath(person.handle), "data-link": true }, person.display_name),
    h("span.meta", {}, `@${person.handle}`, person.locked ? h("span.badge", {}, "locked") : null),
    extra);
}

/**
 * A list read page by page: `path` answers {items, next_cursor}; "Load more" follows next_cursor.
 * `item(record, remove)` renders one entry (`remove()` takes it out again). Returns the element and
 * `reload()`, which starts over from the newest entry (a reload in flight makes older answers void).
 */
export function pagedList({ path, label, empty, isCurrent, item = (p) => personItem(p), limit = 20 }) {
  const list = h("ul.people", { "aria-label": label });
  const status = h("div.list-status", {}, skeleton(2, `Loading ${label.toLowerCase()}…`));
  const more = h("button.small", { type: "button", hidden: true }, "Load more");
  let cursor = null;
  let generation = 0;
  const showEmpty = () => clear(status, list.children.length ? null : h("p.empty", {}, empty));

  const load = async () => {
    const mine = generation;
    more.disabled = true;
    const sep = path.includes("?") ? "&" : "?";
    try {
      const page = await api.get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
      if (!isCurrent() || mine !== generation) return;
      for (const record of page.items) {
        const el = item(record, () => {
          el.remove();
          showEmpty();
        });
        list.append(el);
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      showEmpty();
    } catch (error) {
      if (!isCurrent() || mine !== generation) return;
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
    more.hidden = true;
    clear(list);
    return load();
  };
  reload();
  return { el: h("div.paged", {}, status, list, more), reload };
}

/**
 * Where a registered account has buttons, a guest gets this: social writes need an account (403
 * account_required), and registering keeps the guest's id, spaces and all. `onRegister` opens the form.
 */
export function registerPrompt(onRegister, what = "follow, block or mute people") {
  return h("div.register-prompt", { role: "note" },
    h("p", {}, `Register to ${what}. You keep your spaces and everything else.`),
    h("button.primary", { type: "button", onclick: onRegister }, "Register"));
}
