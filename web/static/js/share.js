// The share dialog: invite links (owner) and the space link when the space is link-visible.
import * as api from "./api.js";
import { h, clear, uid } from "./dom.js";
import { copyText, errorBox } from "./ui.js";

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
  const createInvite = h("button.primary", { type: "button" }, "Create invite link");
  createInvite.addEventListener("click", async () => {
    error.show("");
    createInvite.disabled = true;
    try {
      const invite = await api.post(`/spaces/${space.id}/invites`, { role: role.value });
      clear(inviteResult, linkRow(`Invite link (${invite.role})`, invite.link));
      inviteResult.querySelector("input").focus();
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
    toggle.addEventListener("change", async () => {
      error.show("");
      try {
        Object.assign(space, await api.patch(`/spaces/${space.id}`, {
          visibility: toggle.checked ? "link" : "private", link_role: "editor",
        }));
        onChanged?.(space);
        renderLink();
      } catch (e) {
        toggle.checked = !toggle.checked;
        error.show(api.describe(e));
      }
    });
    clear(linkSection,
      h("div.check", {}, toggle, h("label", { for: visibleId }, "Anyone with the space link can join")),
      space.visibility === "link" ? linkRow("Space link", space.link) : null);
  };
  renderLink();

  const dialog = h("dialog.dialog.share-dialog", { "aria-labelledby": "share-title" },
    h("h2", { id: "share-title" }, `Share “${space.name}”`),
    owner
      ? h("div.invite-section", {},
        h("div.row", {}, h("div.field", {}, h("label", { for: roleId }, "People with the invite"), role), createInvite),
        inviteResult)
      : h("p.muted", {}, "Only the owner can create invite links."),
    linkSection, error,
    h("form", { method: "dialog" }, h("div.actions", {}, h("button", { type: "submit" }, "Done"))));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
