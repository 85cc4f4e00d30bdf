// /home: the social home. Today it finds a person by handle and lists the people I follow; the home
// feed (with its "N new posts"), the compose form and search mount into the slots below as they land,
// each as its own module rendering into its slot, so this screen stays a layout.
import * as api from "../api.js";
import { h, clear, uid } from "../dom.js";
import * as session from "../session.js";
import * as social from "../social.js";
import { errorBox } from "../ui.js";
import { authView } from "./auth.js";

function findPerson(navigate) {
  const id = uid("f");
  const error = errorBox();
  const input = h("input", {
    id, name: "handle", required: true, maxlength: 64, autocomplete: "off", placeholder: "alice", spellcheck: false,
  });
  const button = h("button.primary", { type: "submit" }, "Open profile");
  const el = h("form.card.find-person", { "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, "Find a person"),
    h("div.row", {}, h("div.field", {}, h("label", { for: id }, "Handle"), input), button),
    error);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!el.reportValidity()) return;
    error.show("");
    button.disabled = true;
    const handle = input.value.trim().replace(/^@/, "");
    try {
      const person = await social.profileByHandle(handle);
      navigate(social.profilePath(person.handle));
    } catch (e) {
      error.show(social.isUserGone(e) ? `There is no account @${handle}.` : api.describe(e));
      button.disabled = false;
    }
  });
  return el;
}

export function homeView(ctx) {
  const { main, navigate, isCurrent } = ctx;
  const me = session.user();
  const handle = social.myHandle();
  const register = () => authView(ctx, {
    initial: "register",
    reason: "Register to follow people and to have a profile. You keep your spaces.",
    onDone: () => navigate(location.pathname, { replace: true }),
  });
  const following = handle
    ? social.pagedList({
      path: `/users/${encodeURIComponent(me.id)}/following`, label: "People you follow",
      empty: "You follow no one yet. Find someone by their handle above.", isCurrent,
    })
    : null;
  clear(main,
    h("section.home", { "aria-labelledby": "home-title" },
      h("h1", { id: "home-title" }, "Home"),
      handle
        ? h("p.lead", {}, "Your profile: ", h("a", { href: social.profilePath(handle), "data-link": true }, `@${handle}`))
        : social.registerPrompt(register, "have a profile and follow people"),
      h("div.slot", { dataset: { slot: "compose" } }),
      h("div.slot", { dataset: { slot: "search" } }, findPerson(navigate)),
      h("div.slot", { dataset: { slot: "feed" } },
        following ? h("section.card.people-section", { "aria-label": "People you follow" },
          h("h2", {}, "People you follow"), following.el) : null)));
  return null;
}
