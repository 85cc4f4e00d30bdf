// The signed-in session: tokens and user, kept in localStorage.
//
// Why localStorage (not sessionStorage): an invite or space link opened in a new tab should find the
// user signed in. The cost is that tabs share one refresh token, and the hub rotates refresh tokens
// with reuse detection (using an old one revokes the whole family). So a refresh runs under a Web
// Lock shared by all tabs, and a tab that waited for the lock first checks whether another tab has
// already rotated the token. XSS, the usual worry with storage, is fenced by the hub's strict CSP
// (no inline script, script-src 'self') and by never rendering user data as HTML.

const KEY = "hub.session";
const listeners = new Set();

function read() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) || "null");
    return value && typeof value.access_token === "string" ? value : null;
  } catch {
    return null;
  }
}

export function current() {
  return read();
}

export function user() {
  return read()?.user ?? null;
}

export function accessToken() {
  return read()?.access_token ?? null;
}

/** Store a token response ({access_token, refresh_token, expires_in, user}). */
export function save(tokens) {
  const value = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
    user: tokens.user,
  };
  localStorage.setItem(KEY, JSON.stringify(value));
  notify(value);
  return value;
}

export function updateUser(userRecord) {
  const value = read();
  if (!value) return;
  value.user = userRecord;
  localStorage.setItem(KEY, JSON.stringify(value));
  notify(value);
}

export function forget() {
  localStorage.removeItem(KEY);
  notify(null);
}

/** `fn(session | null)` after every change, in this tab or another one. */
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(value) {
  for (const fn of listeners) fn(value);
}

window.addEventListener("storage", (event) => {
  if (event.key === KEY) notify(read());
});

/**
 * Run `rotate(refreshToken)` (which returns a fresh token response) at most once across tabs.
 * `staleAccess` is the access token the caller found expired: if the stored one differs, another
 * tab already refreshed and we reuse its result instead of spending the refresh token twice.
 */
export async function refreshOnce(staleAccess, rotate) {
  const run = async () => {
    const value = read();
    if (!value) return null;
    if (value.access_token !== staleAccess) return value;
    return save(await rotate(value.refresh_token));
  };
  if (navigator.locks?.request) return navigator.locks.request("hub.refresh", run);
  return run();
}
