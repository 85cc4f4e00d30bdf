// "My spaces": list (with expiry), create, open, delete (owners) or report (everyone else with an account).
import * as api from "../api.js";
import { h, clear, uid, timeAgo, skeleton } from "../dom.js";
import * as moderation from "../moderation.js";
import { confirmDialog, errorBox, toast } from "../ui.js";

const TTLS = [
  ["1 hour", 3600], ["1 day", 86400], ["7 days", 7 * 86400], ["30 days", 30 * 86400], ["90 days", 90 * 86400],
];

function createForm(onCreated) {
  const nameId = uid("f");
  const ttlId = uid("f");
  const visId = uid("f");
  const error = errorBox();
  const button = h("button.primary", { type: "submit" }, "Create space");
  const el = h("form.card.create-space", { "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "New space"),
    h("div.field", {}, h("label", { for: nameId }, "Name"),
      h("input", { id: nameId, name: "name", required: true, maxlength: 100, placeholder: "Sprint planning" })),
    h("div.row", {},
      h("div.field", {}, h("label", { for: ttlId }, "Expires after"),
        h("select", { id: ttlId, name: "ttl_seconds" },
          TTLS.map(([label, seconds]) => h("option", { value: String(seconds), selected: seconds === 7 * 86400 }, label)))),
      h("div.field", {}, h("label", { for: visId }, "Who can open it"),
        h("select", { id: visId, name: "visibility" },
          h("option", { value: "private" }, "Invited people only"),
          h("option", { value: "link" }, "Anyone with the link")))),
    error, button);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!el.reportValidity()) return;
    error.show("");
    button.disabled = true;
    const v = Object.fromEntries(new FormData(el).entries());
    try {
      const space = await api.post("/spaces", {
        name: v.name.trim(), ttl_seconds: Number(v.ttl_seconds), visibility: v.visibility,
        link_role: "editor",
      });
      el.reset();
      onCreated(space);
    } catch (e) {
      error.show(api.describe(e));
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

function spaceItem(space, { onOpen, onDelete, onGone }) {
  const expires = h("span.expiry", {}, timeAgo(space.expires_at, "Expires ", "Expired"));
  return h("li.space-item", { dataset: { spaceId: space.id } },
    h("a.space-name", { href: `/s/${space.id}`, "data-link": true, onclick: onOpen }, space.name),
    h("span.meta", {}, h("span.badge", {}, space.role || "member"),
      space.visibility === "link" ? h("span.badge", {}, "link") : null, expires),
    space.role === "owner"
      ? h("button.danger.small", { type: "button", "aria-label": `Delete ${space.name}`, onclick: onDelete }, "Delete")
      : moderation.reportButton({ type: "space", id: space.id, own: false, label: `Report ${space.name}`, onGone }));
}

export function spacesView({ main, navigate, isCurrent }) {
  const list = h("ul.space-list", { "aria-label": "My spaces" });
  const status = h("div", {}, skeleton(3, "Loading your spaces…"));
  const more = h("button", { type: "button", hidden: true }, "Load more");
  let cursor = null;

  const add = (space, prepend = false) => {
    const item = spaceItem(space, {
      onOpen: null,
      onGone: () => {
        item.remove();
        if (!list.children.length) clear(status, h("p.empty", {}, "No spaces yet. Create one above."));
      },
      onDelete: async () => {
        if (!(await confirmDialog(`Delete “${space.name}” and everything in it?`, { confirmLabel: "Delete", danger: true }))) return;
        try {
          await api.del(`/spaces/${space.id}`);
          item.remove();
          toast(`Deleted “${space.name}”.`);
          if (!list.children.length) clear(status, h("p.empty", {}, "No spaces yet. Create one above."));
        } catch (e) {
          toast(api.describe(e), "error");
        }
      },
    });
    if (prepend) list.prepend(item);
    else list.append(item);
  };

  const load = async () => {
    more.disabled = true;
    try {
      const page = await api.get(`/spaces?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (!isCurrent()) return;
      page.items.forEach((s) => add(s));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(status, list.children.length ? null : h("p.empty", {}, "No spaces yet. Create one above."));
    } catch (e) {
      if (!isCurrent()) return;
      clear(status, h("p.error-box", { role: "alert" }, api.describe(e)),
        h("button", { type: "button", onclick: () => { clear(status, skeleton(3)); load(); } }, "Try again"));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);

  clear(main,
    h("section.spaces", { "aria-labelledby": "spaces-title" },
      h("h1", { id: "spaces-title" }, "My spaces"),
      createForm((space) => navigate(`/s/${space.id}`)),
      h("h2", {}, "Your spaces"),
      status, list, more));
  load();
  return null;
}
