// /u/<handle>: a profile (name, handle, bio, counters, locked badge), the buttons that set how I stand
// to it (follow, block, mute) and Report, its followers and following; on my own profile the edit form and the
// follow requests waiting for me; the person's posts with "Load more". Counters are read again after every change and whenever the tab
// comes back into view, since another person's follow changes them too.
import * as api from "../api.js";
import * as posts from "../posts.js";
import * as codes from "../codes.js";
import { h, clear, uid, skeleton } from "../dom.js";
import * as moderation from "../moderation.js";
import * as session from "../session.js";
import * as social from "../social.js";
import { confirmDialog, errorBox, toast } from "../ui.js";
import { authView } from "./auth.js";

function notice(main, title, message) {
  clear(main, h("section.card.notice", { role: "alert" }, h("h1", {}, title), h("p", {}, message),
    h("a.button", { href: "/home", "data-link": true }, "Go home")));
}

const COUNTERS = [["followers", "followers_count"], ["following", "following_count"], ["posts", "posts_count"]];

function counters(person) {
  return h("ul.counters", { "aria-label": "Counters" }, COUNTERS.map(([name, key]) => {
    const n = person[key];
    const label = name === "followers" && n === 1 ? "follower" : name === "posts" && n === 1 ? "post" : name;
    return h("li.counter", { dataset: { counter: name, count: String(n) } }, h("strong", {}, String(n)), ` ${label}`);
  }));
}

/** The edit form for my own profile: display name, bio (with its character count) and locked. */
function editForm(person, { onSaved, onCancel }) {
  const nameId = uid("f");
  const bioId = uid("f");
  const countId = uid("f");
  const lockedId = uid("f");
  const error = errorBox();
  const name = h("input", { id: nameId, name: "display_name", required: true, maxlength: 128, value: person.display_name });
  const bio = h("textarea.bio-input", { id: bioId, name: "bio", rows: 4, "aria-describedby": countId });
  bio.value = person.bio;
  const count = h("span.bio-count", { id: countId, "aria-live": "polite" });
  const locked = h("input", { id: lockedId, type: "checkbox", name: "locked", checked: person.locked });
  const save = h("button.primary", { type: "submit" }, "Save profile");
  const recount = () => {
    const n = social.chars(bio.value.trim());
    count.textContent = `${n} / ${social.BIO_MAX} characters`;
    count.dataset.over = String(n > social.BIO_MAX);
    bio.setCustomValidity(n > social.BIO_MAX ? `A bio has at most ${social.BIO_MAX} characters.` : "");
  };
  bio.addEventListener("input", recount);
  recount();
  const el = h("form.card.edit-profile", { "aria-labelledby": `${nameId}-title` },
    h("h2", { id: `${nameId}-title` }, "Edit profile"),
    h("div.field", {}, h("label", { for: nameId }, "Display name"), name),
    h("div.field", {}, h("label", { for: bioId }, "Bio"), bio, count),
    h("div.check", {}, locked, h("label", { for: lockedId }, "Locked: I approve who follows me")),
    error,
    h("div.actions", {}, save, h("button", { type: "button", onclick: onCancel }, "Cancel")));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!el.reportValidity()) return;
    error.show("");
    save.disabled = true;
    try {
      const updated = await social.updateProfile(person.id, {
        display_name: name.value.trim(), bio: bio.value, locked: locked.checked,
      });
      onSaved(updated);
    } catch (e) {
      error.show(api.describe(e));
    } finally {
      save.disabled = false;
    }
  });
  return el;
}

export function profileView(ctx, handle) {
  const { main, navigate, isCurrent } = ctx;
  let person = null;
  let rel = null;
  let lists = [];
  const head = h("header.card.profile-head");
  const edit = h("div.profile-edit");
  const requests = h("div.profile-requests");
  const columns = h("div.profile-lists");
  const postsSlot = h("div.profile-posts");
  const live = () => isCurrent() && person !== null;

  const register = () => authView(ctx, {
    initial: "register",
    reason: "Register to follow, block or mute people. You keep your spaces.",
    onDone: () => navigate(location.pathname, { replace: true }),
  });

  const gone = () => notice(main, "Profile not found", "There is no account with this handle.");

  /** Read the profile again (counters), and the lists that a change may have changed. */
  const refresh = async ({ reloadLists = false } = {}) => {
    if (!live()) return;
    try {
      const fresh = await social.profile(person.id);
      if (!live()) return;
      person = fresh;
      renderHead();
      if (reloadLists) lists.forEach((list) => list.reload());
    } catch (error) {
      if (!live()) return;
      if (social.isUserGone(error)) gone();
      else toast(api.describe(error), "error");
    }
  };

  const change = async (action, button) => {
    button.disabled = true;
    try {
      rel = await social.act(person.id, action);
      if (!live()) return;
      await refresh({ reloadLists: true });
    } catch (error) {
      if (!live()) return;
      if (social.isAccountRequired(error)) {
        renderHead({ guest: true });
      } else if (social.isUserGone(error)) {
        gone();
      } else {
        toast(api.describe(error), "error");
        renderHead();
      }
    }
  };

  const actions = ({ guest }) => {
    if (guest) return social.registerPrompt(register);
    if (!rel) return null;
    const followLabel = rel.following ? "Unfollow" : rel.requested ? "Requested" : "Follow";
    const follow = h(rel.following || rel.requested ? "button" : "button.primary", {
      type: "button",
      hidden: rel.blocking,
      title: rel.requested ? "Waiting for approval; press to withdraw the request" : null,
      dataset: { state: rel.following ? "following" : rel.requested ? "requested" : "none" },
      onclick: () => change(rel.following || rel.requested ? "unfollow" : "follow", follow),
    }, followLabel);
    const block = h("button.danger", {
      type: "button",
      onclick: async () => {
        if (!rel.blocking) {
          const sure = await confirmDialog(
            `Block @${person.handle}? You stop following each other, and they can no longer see your profile.`,
            { confirmLabel: "Block", danger: true });
          if (!sure) return;
        }
        await change(rel.blocking ? "unblock" : "block", block);
      },
    }, rel.blocking ? "Unblock" : "Block");
    const mute = h("button", { type: "button", onclick: () => change(rel.muting ? "unmute" : "mute", mute) },
      rel.muting ? "Unmute" : "Mute");
    return h("div.actions.profile-actions", {},
      follow, mute, block,
      moderation.reportButton({ type: "user", id: person.id, own: false, label: `Report @${person.handle}`, onGone: gone }),
      rel.followed_by ? h("span.badge", {}, "follows you") : null,
      rel.blocking ? h("span.badge", {}, "blocked") : null,
      rel.muting ? h("span.badge", {}, "muted") : null);
  };

  const mine = () => person && person.id === session.user()?.id;

  function renderHead({ guest = social.isGuest() } = {}) {
    const own = mine();
    clear(head,
      h("h1.profile-name", { id: "profile-title" }, person.display_name),
      h("p.meta.profile-handle", {}, `@${person.handle}`,
        person.locked ? h("span.badge.locked", { title: "Follows need approval" }, "Locked") : null),
      person.bio ? h("p.bio", {}, person.bio) : null,
      counters(person),
      own ? h("div.actions", {}, h("button", { type: "button", onclick: openEdit }, "Edit profile")) : actions({ guest }));
    main.querySelector(".profile")?.setAttribute("data-user-id", person.id);
  }

  function openEdit() {
    clear(edit, editForm(person, {
      onCancel: () => clear(edit),
      onSaved: (updated) => {
        person = updated;
        clear(edit);
        renderHead();
        const me = session.user();
        if (me) session.updateUser({ ...me, display_name: updated.display_name });
        toast("Profile saved.");
      },
    }));
    edit.querySelector("input")?.focus();
  }

  const requestItem = (request, remove) => {
    const answer = async (what, button) => {
      button.disabled = true;
      try {
        await social.answerRequest(request.id, what);
        remove();
        toast(what === "authorize" ? `@${request.account.handle} now follows you.` : "Request rejected.");
        await refresh({ reloadLists: what === "authorize" });
      } catch (error) {
        if (error instanceof api.ApiError && error.code === codes.FOLLOW_REQUEST_NOT_FOUND) {
          remove();
          toast("This request was withdrawn.");
        } else {
          button.disabled = false;
          toast(api.describe(error), "error");
        }
      }
    };
    const authorize = h("button.primary.small", {
      type: "button", "aria-label": `Authorize @${request.account.handle}`, onclick: () => answer("authorize", authorize),
    }, "Authorize");
    const reject = h("button.small", {
      type: "button", "aria-label": `Reject @${request.account.handle}`, onclick: () => answer("reject", reject),
    }, "Reject");
    return social.personItem(request.account, h("span.actions", {}, authorize, reject));
  };

  const section = (title, list) => h("section.card.people-section", { "aria-label": title }, h("h2", {}, title), list.el);

  const onVisible = () => {
    if (document.visibilityState === "visible") refresh();
  };
  document.addEventListener("visibilitychange", onVisible);

  clear(main, skeleton(4, "Loading the profile…"));
  (async () => {
    try {
      person = await social.profileByHandle(handle);
      if (!social.isGuest() && !mine()) rel = await social.relationship(person.id);
    } catch (error) {
      if (!isCurrent()) return;
      if (social.isUserGone(error)) gone();
      else notice(main, "Cannot open the profile", api.describe(error));
      return;
    }
    if (!isCurrent()) return;
    const base = `/users/${encodeURIComponent(person.id)}`;
    const followers = social.pagedList({
      path: `${base}/followers`, label: "Followers", empty: "No followers yet.", isCurrent,
    });
    const following = social.pagedList({
      path: `${base}/following`, label: "Following", empty: "Not following anyone yet.", isCurrent,
    });
    lists = [followers, following];
    const theirPosts = posts.postList({
      path: posts.userPostsPath(person.id), label: "Posts", empty: "No posts yet.", isCurrent,
    });
    theirPosts.load();
    clear(postsSlot, h("section.card.profile-posts-section", { "aria-label": "Posts" }, h("h2", {}, "Posts"), theirPosts.el));
    clear(columns, section("Followers", followers), section("Following", following));
    if (mine()) {
      const pending = social.pagedList({
        path: "/follow-requests", label: "Follow requests", empty: "No follow requests waiting.", isCurrent,
        item: requestItem,
      });
      lists.push(pending);
      clear(requests, section("Follow requests", pending));
    }
    clear(main, h("section.profile", { "aria-labelledby": "profile-title" }, head, edit, requests, postsSlot, columns));
    renderHead();
  })();

  return () => {
    person = null;
    document.removeEventListener("visibilitychange", onVisible);
  };
}
