// /home: the social home, a layout of slots each filled by its own module: compose (compose.js), search
// (people and posts as one types, and a handle to open), and the feed with its live "N new posts" (feed.js),
// then the people I follow. A guest, who has no feed, is asked to register.
import * as api from "../api.js";
import { composeForm } from "../compose.js";
import { h, clear, uid } from "../dom.js";
import { feedSection, searchBox } from "../feed.js";
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
  const feed = handle ? feedSection({ isCurrent }) : null;
  const initial = new URLSearchParams(location.search).get("q") || "";
  clear(main,
    h("section.home", { "aria-labelledby": "home-title" },
      h("h1", { id: "home-title" }, "Home"),
      handle
        ? h("p.lead", {}, "Your profile: ", h("a", { href: social.profilePath(handle), "data-link": true }, `@${handle}`))
        : social.registerPrompt(register, "have a profile and follow people"),
      h("div.slot", { dataset: { slot: "compose" } }, feed ? composeForm({ onPosted: feed.prepend }) : null),
      h("div.slot", { dataset: { slot: "search" } },
        searchBox({ isCurrent, initial, personItem: social.personItem }), findPerson(navigate)),
      h("div.slot", { dataset: { slot: "feed" } },
        feed ? feed.el : null,
        following ? h("section.card.people-section", { "aria-label": "People you follow" },
          h("h2", {}, "People you follow"), following.el) : null)));
  return () => feed?.close();
}
