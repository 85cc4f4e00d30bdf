// The share dialog: invite links with an expiry and a number of uses, the live invites with revoke
// (owner), and the space link, editable or read-only, when the space is link-visible.
import * as api from "./api.js";
import { h, clear, serverNow, uid, timeAgo } from "./dom.js";
import { copyText, errorBox } from "./ui.js";

const EXPIRIES = [["", "Never (while the space lives)"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]];
const USES = [["", "Any number of times"], ["1", "Once"], ["5", "5 times"], ["25", "25 times"]];
const ROLES = { editor: "Can edit", viewer: "Can view" };

function select(id, options, value = "") {
  return h("select", { id }, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

/** "Can view · 1 of 5 uses · expires in 3 hours", and whether it still works. */
function describeInvite(invite) {
  const used = invite.max_uses == null ? `${invite.uses} used` : `${invite.uses} of ${invite.max_uses} used`;
  const over = invite.max_uses != null && invite.uses >= invite.max_uses;
  const expired = invite.expires_at != null && new Date(invite.expires_at).getTime() <= serverNow();
  return { text: `${ROLES[invite.role] || invite.role} · ${used}`, live: !over && !expired, over, expired };
}

function linkRow(label, url) {
  const id = uid("link");
  const input = h("input.link-input", { id, type: "text", readonly: true, value: url,
    onfocus: (e) => e.target.select() });
  return h("div.field", {}, h("label", { for: id }, label),
    h("div.copy-row", {}, input, h("button", { type: "button", onclick: () => copyText(url, input) }, "Copy")));
}

export function openShareDialog(space, { onChanged }) {
  const owner = space.role === "owner";
  const error = errorBox();
  const inviteResult = h("div.invite-result");
  const roleId = uid("role");
  const role = h("select", { id: roleId }, h("option", { value: "editor" }, "Can edit"),
    h("option", { value: "viewer" }, "Can view"));
  const expiryId = uid("expiry");
  const expiry = select(expiryId, EXPIRIES);
  const usesId = uid("uses");
  const uses = select(usesId, USES);
  const invites = h("ul.invite-list", { "aria-label": "Live invites" });
  const loadInvites = async () => {
    try {
      const { items } = await api.get(`/spaces/${space.id}/invites`);
      clear(invites, items.length ? items.map((invite) => inviteRow(invite)) : h("li.muted", {}, "No invite links."));
    } catch (e) {
      error.show(api.describe(e));
    }
  };
  const inviteRow = (invite) => {
    const { text, live, over } = describeInvite(invite);
    const revoke = h("button.small.danger", { type: "button", "aria-label": `Revoke ${text}` }, "Revoke");
    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      try {
        await api.del(`/spaces/${space.id}/invites/${encodeURIComponent(invite.id)}`);
        await loadInvites();
      } catch (e) {
        revoke.disabled = false;
        error.show(api.describe(e));
      }
    });
    const until = invite.expires_at ? timeAgo(invite.expires_at, live ? " · expires " : " · expired ") : null;
    return h("li.invite-item", { dataset: { inviteId: invite.id, live: String(live) } },
      h("span.meta", {}, text, until, over ? " · used up" : ""), revoke);
  };
  const createInvite = h("button.primary", { type: "button" }, "Create invite link");
  createInvite.addEventListener("click", async () => {
    error.show("");
    createInvite.disabled = true;
    try {
      const body = { role: role.value };
      if (expiry.value) body.expires_in = Number(expiry.value);
      if (uses.value) body.max_uses = Number(uses.value);
      const invite = await api.post(`/spaces/${space.id}/invites`, body);
      clear(inviteResult, linkRow(`Invite link (${invite.role})`, invite.link));
      inviteResult.querySelector("input").focus();
      await loadInvites();
    } catch (e) {
      error.show(api.describe(e));
    } finally {
      createInvite.disabled = false;
    }
  });

  const linkSection = h("div.link-section");
  const renderLink = () => {
    const visibleId = uid("vis");
    const toggle = h("input", { id: visibleId, type: "checkbox", checked: space.visibility === "link", disabled: !owner });
    const linkRoleId = uid("linkrole");
    const linkRole = select(linkRoleId, Object.entries(ROLES), space.link_role || "viewer");
    linkRole.disabled = !owner;
    const save = async (changes, undo) => {
      error.show("");
      try {
        Object.assign(space, await api.patch(`/spaces/${space.id}`, changes));
        onChanged?.(space);
        renderLink();
      } catch (e) {
        undo();
        error.show(api.describe(e));
      }
    };
    toggle.addEventListener("change", () => save(
      { visibility: toggle.checked ? "link" : "private", link_role: linkRole.value },
      () => { toggle.checked = !toggle.checked; }));
    linkRole.addEventListener("change", () => save(
      { link_role: linkRole.value }, () => { linkRole.value = space.link_role; }));
    clear(linkSection,
      h("div.check", {}, toggle, h("label", { for: visibleId }, "Anyone with the space link can join")),
      h("div.field", {}, h("label", { for: linkRoleId }, "People with the space link"), linkRole),
      space.visibility === "link" ? linkRow("Space link", space.link) : null);
  };
  renderLink();

  const dialog = h("dialog.dialog.share-dialog", { "aria-labelledby": "share-title" },
    h("h2", { id: "share-title" }, `Share “${space.name}”`),
    owner
      ? h("div.invite-section", {},
        h("div.row", {}, h("div.field", {}, h("label", { for: roleId }, "People with the invite"), role),
          h("div.field", {}, h("label", { for: expiryId }, "Link expires"), expiry),
          h("div.field", {}, h("label", { for: usesId }, "Can be used"), uses), createInvite),
        inviteResult, h("h3", {}, "Invite links"), invites)
      : h("p.muted", {}, "Only the owner can create invite links."),
    linkSection, error,
    h("form", { method: "dialog" }, h("div.actions", {}, h("button", { type: "submit" }, "Done"))));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  if (owner) loadInvites();
}
