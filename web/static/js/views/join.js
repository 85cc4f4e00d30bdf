// /join#<token>: redeem an invite, then open the space. The token lives in the fragment so it never
// reaches server logs or Referer headers.
import * as api from "../api.js";
import { h, clear } from "../dom.js";

export function joinView({ main, navigate, isCurrent }, token) {
  const fail = (message) => {
    clear(main, h("section.card.notice", { role: "alert" },
      h("h1", {}, "Cannot join"), h("p", {}, message),
      h("a.button", { href: "/", "data-link": true }, "Go to my spaces")));
  };
  if (!token) {
    fail("This invite link is incomplete. Ask for a new one.");
    return null;
  }
  (async () => {
    try {
      const space = await api.post("/spaces/join", { token: decodeURIComponent(token) });
      if (isCurrent()) navigate(`/s/${space.id}`, { replace: true });
    } catch (error) {
      if (!isCurrent()) return;
      fail(error instanceof api.ApiError && (error.status === 404 || error.status === 410)
        ? "This invite is invalid, used up or expired. Ask for a new one." : api.describe(error));
    }
  })();
  return null;
}
