// Entry point: the router and the account menu. Each screen is a function that renders into <main>
// and returns a cleanup (closing sockets, timers) that runs before the next screen.
import * as api from "./api.js";
import { h, clear, skeleton } from "./dom.js";
import * as moderation from "./moderation.js";
import { notificationBell } from "./notifications.js";
import * as session from "./session.js";
import { chooseDialog, toast } from "./ui.js";
import { authView } from "./views/auth.js";
import { homeView } from "./views/home.js";
import { inviteLanding, joinView } from "./views/join.js";
import { profileView } from "./views/profile.js";
import { spaceView } from "./views/space.js";
import { spacesView } from "./views/spaces.js";

const main = document.getElementById("main");
let cleanup = null;
let renderId = 0;
let firstRender = true;

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

// Set when a guest chose to register instead of signing out: `render` shows the registration form.
let registering = false;

function route() {
  const path = location.pathname;
  if (moderation.isModerationRoute()) return { name: "moderation" };
  const space = /^\/s\/([A-Za-z0-9_-]{1,64})\/?$/.exec(path);
  if (space) return { name: "space", spaceId: space[1] };
  if (path === "/join" || path === "/join/") return { name: "join", token: location.hash.slice(1) };
  const profile = /^\/u\/([^/]{1,200})\/?$/.exec(path);
  if (profile) {
    try {
      return { name: "profile", handle: decodeURIComponent(profile[1]) };
    } catch {
      return { name: "profile", handle: profile[1] };
    }
  }
  if (path === "/home" || path === "/home/") return { name: "social" };
  return { name: "home" };
}

async function render() {
  renderId += 1;
  const mine = renderId;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // A failing cleanup must not block the next screen.
    }
    cleanup = null;
  }
  clear(main, skeleton(4));
  renderAccount();
  const r = route();
  const ctx = { main, navigate, isCurrent: () => mine === renderId };
  if (registering && session.user()?.is_guest) {
    registering = false;
    cleanup = authView(ctx, {
      reason: "Choose a username and a password to keep this account, its id and its spaces.",
      initial: "register",
      onDone: () => render(),
    });
  } else if (!session.current() && r.name === "join") {
    cleanup = inviteLanding(ctx, r.token, (reason) => authView(ctx, { reason, onDone: () => render() }));
  } else if (!session.current()) {
    const reason = r.name === "space" ? "Sign in or continue as a guest to open this space."
      : r.name === "profile" ? "Sign in or continue as a guest to see this profile."
        : r.name === "moderation" ? "Sign in to open the moderation page." : null;
    cleanup = authView(ctx, { reason, onDone: () => render() });
  } else if (r.name === "space") {
    cleanup = spaceView(ctx, r.spaceId);
  } else if (r.name === "join") {
    cleanup = joinView(ctx, r.token);
  } else if (r.name === "profile") {
    cleanup = profileView(ctx, r.handle);
  } else if (r.name === "social") {
    cleanup = homeView(ctx);
  } else if (r.name === "moderation") {
    cleanup = moderation.moderationView(ctx);
  } else {
    cleanup = spacesView(ctx);
  }
  // After an in-app navigation, move focus to the new content (as a page load would reset it);
  // on the first load leave it alone so Tab starts at the skip link.
  if (!firstRender && (document.activeElement === document.body || !main.contains(document.activeElement))) {
    main.focus({ preventScroll: true });
  }
  firstRender = false;
}

let sectionsDrawn = 0;

/**
 * The sections of the client; the current one is marked for assistive technology. Moderators and
 * admins also get "Moderation" once the hub has told their role (`data-role` on the nav says it has).
 */
function renderSections(user) {
  const nav = document.getElementById("sections");
  if (!nav) return;
  const drawn = ++sectionsDrawn;
  if (!user) {
    delete nav.dataset.role;
    clear(nav);
    return;
  }
  const here = location.pathname.replace(/\/$/, "") || "/";
  const onModeration = moderation.isModerationRoute();
  const isHere = (href) => (href === moderation.MODERATION_PATH ? onModeration
    : !onModeration && (href === "/" ? here === "/" || here.startsWith("/s/") : here === href));
  const link = (href, label) => h("a.section-link", { href, "data-link": true,
    "aria-current": isHere(href) ? "page" : null }, label);
  clear(nav,
    link("/", "Spaces"),
    link("/home", "Home"),
    user.is_guest ? null : link(`/u/${encodeURIComponent(user.username)}`, "Profile"));
  if (user.is_guest) return;
  moderation.role(user).then((role) => {
    // A later drawing (another screen, another account) has its own answer to wait for.
    if (drawn !== sectionsDrawn) return;
    nav.dataset.role = role;
    if (moderation.isStaff(role)) nav.append(link(moderation.MODERATION_PATH, "Moderation"));
  }, () => {
    // No link for now; the next screen asks again.
  });
}

/** A guest account lives only in this browser: signing out loses it, and with it the spaces it owns.
 * Say so, and offer to register instead (which keeps the account, its id and its spaces). */
async function guestMaySignOut() {
  let owned = [];
  try {
    owned = (await api.get("/spaces?limit=100")).items.filter((space) => space.role === "owner");
  } catch {
    // Without the list, warn all the same.
  }
  const names = owned.slice(0, 3).map((space) => `“${space.name}”`).join(", ");
  const what = owned.length === 0 ? "this guest account"
    : `this guest account and the ${owned.length === 1 ? "space" : `${owned.length} spaces`} it owns (${names}${owned.length > 3 ? ", …" : ""})`;
  const choice = await chooseDialog("Sign out of a guest account?",
    `A guest account cannot sign in again: after signing out, ${what} will be out of reach. Register to keep them: you stay who you are, with a username and a password.`,
    [{ value: "out", label: "Sign out anyway", kind: "danger" }, { value: "cancel", label: "Cancel" },
      { value: "register", label: "Register", kind: "primary" }]);
  if (choice === "register") {
    registering = true; // the next screen is the registration form, for this guest
    navigate("/");
  }
  return choice === "out";
}

function renderAccount() {
  const nav = document.getElementById("account");
  const user = session.user();
  renderSections(user);
  // The bell keeps its own slot: re-rendering the account menu must not close its list or its socket.
  notificationBell(document.getElementById("bell"), user, { navigate });
  if (!user) {
    clear(nav);
    return;
  }
  const signOut = async () => {
    if (user.is_guest && !(await guestMaySignOut())) return;
    try {
      await api.post("/auth/logout");
    } catch {
      // Signing out locally is what matters; the server session expires on its own.
    }
    session.forget();
    navigate("/");
  };
  clear(nav,
    h("span.who", { title: user.is_guest ? "Guest account" : `@${user.username}` },
      user.display_name, user.is_guest ? h("span.badge", {}, "guest") : null),
    h("button.link-button", { type: "button", onclick: signOut }, "Sign out"));
}

// Same-origin links marked data-link are handled by the router without a page load.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-link]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", () => render());

let signedIn = Boolean(session.current());
session.onChange((value) => {
  // Signed out (here, in another tab, or by a dead refresh token): back to the sign-in screen.
  if (signedIn && !value) {
    toast("You are signed out.");
    signedIn = false;
    render();
    return;
  }
  signedIn = Boolean(value);
  renderAccount();
});
api.keepFresh();
window.addEventListener("unhandledrejection", (event) => {
  toast(api.describe(event.reason), "error");
});
render();
