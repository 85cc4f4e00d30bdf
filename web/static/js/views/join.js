// /join#<token>: what the invite offers, then redeem it and open the space. The token lives in the
// fragment so that it never reaches server logs or Referer headers as part of a page's address.
import * as api from "../api.js";
import * as codes from "../codes.js";
import { h, clear } from "../dom.js";

function fail(main, message) {
  clear(main, h("section.card.notice", { role: "alert" },
    h("h1", {}, "Cannot join"), h("p", {}, message),
    h("a.button", { href: "/", "data-link": true }, "Go to my spaces")));
}

/** Why an invite does not work, as its holder should read it. */
function whyNot(error) {
  if (error instanceof api.ApiError) {
    if (error.code === codes.INVITE_EXPIRED) return "This invite has expired. Ask whoever shared it for a new one.";
    if (error.code === codes.INVITE_USED_UP) {
      return "This invite has been used as many times as it allows. Ask whoever shared it for a new one.";
    }
    if (error.code === codes.INVITE_NOT_FOUND || error.status === 404) {
      return "This invite is not valid (it may have been revoked). Ask whoever shared it for a new one.";
    }
  }
  return api.describe(error);
}

function token(raw) {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Signed out: name the space and the role first (or say at once why the link no longer works), then
 * offer to sign in, register or continue as a guest (`signIn(reason)`). */
export function inviteLanding({ main, isCurrent }, raw, signIn) {
  if (!raw) {
    fail(main, "This invite link is incomplete. Ask for a new one.");
    return null;
  }
  (async () => {
    try {
      const invite = await api.get(`/invites/${encodeURIComponent(token(raw))}`, { auth: false });
      if (!isCurrent()) return;
      const role = invite.role === "editor" ? "an editor" : "a viewer";
      signIn(`You are invited to “${invite.space_name}” as ${role}. Sign in, register or continue as a guest to join.`);
    } catch (error) {
      if (isCurrent()) fail(main, whyNot(error));
    }
  })();
  return null;
}

/** Signed in: redeem the invite and open the space; when it does not work, say why. */
export function joinView({ main, navigate, isCurrent }, raw) {
  if (!raw) {
    fail(main, "This invite link is incomplete. Ask for a new one.");
    return null;
  }
  (async () => {
    try {
      const space = await api.post("/spaces/join", { token: token(raw) });
      if (isCurrent()) navigate(`/s/${space.id}`, { replace: true });
    } catch (error) {
      // The join says why itself, with the landing's codes: 410 invite_expired or invite_used_up, 404
      // for an invite that never worked or was revoked.
      if (isCurrent()) fail(main, whyNot(error));
    }
  })();
  return null;
}
