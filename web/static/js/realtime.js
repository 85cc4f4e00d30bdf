// One Socket.IO connection to a space: authentication, join with resume, reconnect with backoff.
//
// Socket.IO's manager already reconnects after transport failures with exponential backoff and
// jitter (0.5 s doubling to a 10 s cap, ±50 %). Connections the hub *refuses* are not retried by the
// library; the refusal's `data.code` says what to do: refresh an expired token first, sign out when
// the session is revoked, wait `details.retry_after` when rate limited, else back off as above.
// Every (re)connect joins with the last contiguous {seq, epoch} we hold; the hub replays what we
// missed or answers `recovered: false` with a snapshot.
import { io } from "../vendor/socket.io.esm.min.js";
import * as api from "./api.js";
import * as codes from "./codes.js";
import * as session from "./session.js";

const BASE_DELAY = 500;
const MAX_DELAY = 10_000;
const ACK_TIMEOUT = 10_000;
// Board changes carry a seq (the hub numbers every change of a board, gap-free).
const SEQUENCED = new Set(["stroke", "erase", "clear", "transform", "restore"]);
// A seq that stays missing this long (events of two instances may cross) means the hub could not
// fan an event out to us (a Redis outage, an instance that died before broadcasting a commit):
// join again from our mark, which replays or reloads what we missed.
const GAP_GRACE = 1500;
// The grace doubles with every gap rejoin of the last GAP_MEMORY ms, up to 8x: when the hub lags,
// events arrive late but arrive, and a rejoin per late event (from every member of every room) only
// adds to its load. A lost event still brings a rejoin within seconds.
const GAP_MEMORY = 30_000;
const GAP_MAX_DOUBLINGS = 3;

export function backoff(attempt, random = Math.random) {
  const base = Math.min(MAX_DELAY, BASE_DELAY * 2 ** Math.max(0, attempt - 1));
  return Math.min(MAX_DELAY, base * (0.5 + random()));
}

export class OfflineError extends Error {
  constructor(message = "Not connected.") {
    super(message);
    this.code = codes.OFFLINE;
  }
}

/**
 * handlers: onJoined(ack) — after every successful join (ack.recovered tells replay from snapshot);
 * onEvent(name, payload) — every server event for this space; onDisconnected(); onGone(code, message);
 * onStatus({state, attempt}) — "connecting" | "joined" | "reconnecting" | "closed";
 * unacked() — how many of our own events await their ack (their seqs are missing until it comes).
 */
export class Realtime {
  constructor(spaceId, handlers) {
    this.spaceId = spaceId;
    this.handlers = handlers;
    this.epoch = null;
    this.mark = 0; // highest seq up to which we have seen every event
    this.seen = new Set();
    this.joined = false;
    this.everJoined = false;
    this.attempt = 0;
    this.closed = false;
    this.retryTimer = null;
    this.gapTimer = null;
    this.gapRejoins = []; // when the recent gap rejoins happened (Date.now())
    this.generation = 0;
    this.refreshesSinceJoin = 0;
  }

  start() {
    this.socket = io({
      path: "/socket.io",
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelay: BASE_DELAY,
      reconnectionDelayMax: MAX_DELAY,
      randomizationFactor: 0.5,
      // A function, so every reconnect presents the newest access token.
      auth: (cb) => cb({ token: session.accessToken() }),
    });
    const s = this.socket;
    s.on("connect", () => this.join());
    s.on("disconnect", (reason) => this.lost(reason));
    s.on("connect_error", (error) => this.refused(error));
    s.io.on("reconnect_attempt", () => this.status("reconnecting", true));
    s.on("kicked", (data) => this.kicked(data || {}));
    s.onAny((event, payload) => {
      if (event === "kicked" || !payload || typeof payload !== "object") return;
      if (payload.space_id && payload.space_id !== this.spaceId) return;
      if (SEQUENCED.has(event) && Number.isInteger(payload.seq)) this.note(payload.seq);
      this.handlers.onEvent?.(event, payload);
      const ended = codes.SPACE_ENDED_CODES.has(event);
      if (ended && (event !== codes.MEMBER_REMOVED || payload.user_id === session.user()?.id)) {
        this.gone(event, event === codes.MEMBER_REMOVED ? "You were removed from this space." : "This space is gone.");
      }
    });
    this.unsubscribe = session.onChange((value) => {
      // A refreshed access token (this tab or another) keeps a long-lived socket authorised.
      if (value && this.joined) s.emit("auth", { token: value.access_token });
    });
    this.status("connecting");
  }

  status(state, bump = false) {
    if (bump) this.attempt += 1;
    this.handlers.onStatus?.({ state, attempt: this.attempt });
  }

  /** Record a seq we have applied; advances the contiguous mark used to resume. */
  note(seq) {
    if (seq <= this.mark) return;
    this.seen.add(seq);
    while (this.seen.has(this.mark + 1)) {
      this.mark += 1;
      this.seen.delete(this.mark);
    }
    this.armGap();
  }

  /** Join again from the mark if a seq stays missing for the grace (see GAP_GRACE, GAP_MEMORY). */
  armGap() {
    if (!this.seen.size || this.gapTimer || this.closed) return;
    const markAtArm = this.mark;
    const now = Date.now();
    this.gapRejoins = this.gapRejoins.filter((at) => now - at < GAP_MEMORY);
    const grace = GAP_GRACE * 2 ** Math.min(GAP_MAX_DOUBLINGS, this.gapRejoins.length);
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (!this.seen.size || !this.joined || this.closed) return;
      // Still waiting, yet the mark moved (events arrive, late) or every missing seq may be one of our
      // own events whose ack is on its way: wait another grace instead of rejoining.
      if (this.mark > markAtArm || this.unexplained() <= 0) {
        this.armGap();
        return;
      }
      this.gapRejoins.push(Date.now());
      this.join();
    }, grace);
  }

  /** Missing seqs below the highest one seen, less those our own unacknowledged events may hold. */
  unexplained() {
    const missing = Math.max(...this.seen) - this.mark - this.seen.size;
    return missing - (this.handlers.unacked?.() ?? 0);
  }

  async join() {
    const generation = this.generation;
    const payload = { space_id: this.spaceId };
    if (this.epoch) payload.since = { seq: this.mark, epoch: this.epoch };
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT).emitWithAck("join", payload);
    } catch {
      if (generation === this.generation && this.socket.connected) this.socket.disconnect().connect();
      return;
    }
    if (this.closed || generation !== this.generation) return;
    if (!ack?.ok) {
      const code = ack?.error?.code;
      if (codes.isSpaceGone(code)) {
        this.gone(code, ack.error.message);
      } else {
        this.retry();
      }
      return;
    }
    if (!ack.recovered || ack.epoch !== this.epoch) {
      this.seen.clear();
      this.mark = ack.seq;
    } else {
      for (const event of ack.events || []) if (Number.isInteger(event.seq)) this.note(event.seq);
      this.mark = Math.max(this.mark, ack.seq);
      for (const seq of this.seen) if (seq <= this.mark) this.seen.delete(seq);
    }
    this.epoch = ack.epoch;
    this.joined = true;
    const wasReconnect = this.everJoined;
    this.everJoined = true;
    this.attempt = 0;
    this.refreshesSinceJoin = 0;
    this.handlers.onJoined?.(ack, { reconnect: wasReconnect });
    this.status("joined");
    this.armGap(); // events that came during the join and are still ahead of the mark
  }

  lost(reason) {
    this.joined = false;
    this.generation += 1;
    if (this.closed) return;
    this.handlers.onDisconnected?.();
    this.status("reconnecting");
    // "io server disconnect": the hub closed us on purpose; the library will not reconnect by itself.
    if (reason === "io server disconnect" && !this.kickHandled) this.retry();
  }

  /** A `connect_error`: the hub's refusal carries `data: {code, message, details?}`. */
  async refused(error) {
    if (this.closed) return;
    const data = error?.data;
    const code = data && typeof data === "object" ? data.code : null;
    if (!code) return; // a transport failure: the manager is already backing off
    if (codes.SIGNED_OUT_CODES.has(code)) {
      this.signOut();
      return;
    }
    if (codes.REFRESHABLE_CODES.has(code)) {
      if (await this.refreshed()) this.retryRefreshed();
      return;
    }
    const retryAfter = Number(data.details?.retry_after);
    this.retry(code === codes.RATE_LIMITED && retryAfter > 0 ? retryAfter * 1000 : 0);
  }

  async kicked({ code, message }) {
    this.kickHandled = true;
    if (codes.SPACE_ENDED_CODES.has(code)) {
      this.gone(code, message);
      return;
    }
    if (codes.SIGNED_OUT_CODES.has(code)) {
      this.signOut();
      return;
    }
    if (code === codes.TOKEN_EXPIRED) {
      if (!(await this.refreshed())) return;
      this.kickHandled = false;
      this.retryRefreshed();
      return;
    }
    this.kickHandled = false;
    this.retry();
  }

  /** The fresh token mends the refusal: reconnect at once, but only once in a row (then back off). */
  retryRefreshed() {
    const first = this.refreshesSinceJoin === 0;
    this.refreshesSinceJoin += 1;
    this.retry(0, first);
  }

  /**
   * Refresh the access token before reconnecting. False when signed out (a dead refresh token:
   * the router shows the sign-in screen and closes us); a hub that cannot answer yet is retried.
   */
  async refreshed() {
    try {
      await api.refreshTokens(session.accessToken());
      return !this.closed;
    } catch (error) {
      if (this.closed || !session.current()) return false;
      // Unreachable, unavailable or rate limited: try again later; the next refusal refreshes again.
      this.retry(error instanceof api.ApiError ? Number(error.details?.retry_after) * 1000 || 0 : 0);
      return false;
    }
  }

  signOut() {
    // Stop first: forgetting the session re-renders the page, and nothing may reconnect meanwhile.
    this.close();
    session.forget();
  }

  /** Reconnect (or rejoin) after the backoff, or after `atLeast` ms when the hub asked for that. */
  retry(atLeast = 0, immediately = false) {
    if (this.closed || this.retryTimer) return;
    this.status("reconnecting", true);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed) return;
      if (this.socket.connected) this.join();
      else this.socket.connect();
    }, immediately ? 0 : Math.max(atLeast, backoff(this.attempt)));
  }

  gone(code, message) {
    if (this.closed) return;
    this.handlers.onGone?.(code, message);
    this.close();
  }

  /** Send an event and wait for its ack; OfflineError when not joined or when the ack never comes. */
  async call(event, payload) {
    if (!this.joined) throw new OfflineError();
    try {
      return await this.socket.timeout(ACK_TIMEOUT).emitWithAck(event, { space_id: this.spaceId, ...payload });
    } catch {
      throw new OfflineError("No answer from the hub.");
    }
  }

  /** Fire-and-forget (cursor moves): dropped when offline rather than queued. */
  volatile(event, payload) {
    if (this.joined) this.socket.volatile.emit(event, { space_id: this.spaceId, ...payload });
  }

  close() {
    this.closed = true;
    this.joined = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.gapTimer);
    this.unsubscribe?.();
    this.socket?.disconnect();
    this.status("closed");
  }
}

// -- the personal room -----------------------------------------------------------------------------
//
// Every socket of a registered account joins that account's room when it connects (docs/realtime.md
// "Personal room"); no event joins it. One connection per tab serves all that listen there (the feed's
// "N new posts", the notification bell): the first listener opens it, the last one closes it.

let personal = null;

function each(listeners, call) {
  for (const listener of [...listeners]) {
    try {
      call(listener);
    } catch (error) {
      // One listener's bug must not starve the others of their events.
      reportError(error);
    }
  }
}

function openPersonal() {
  const listeners = new Set();
  const socket = io({
    path: "/socket.io",
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    auth: (cb) => cb({ token: session.accessToken() }),
  });
  let closed = false;
  socket.on("connect_error", async (error) => {
    const code = error?.data?.code;
    if (closed || !code) return; // a transport failure: the manager backs off and retries by itself
    if (codes.REFRESHABLE_CODES.has(code)) {
      try {
        await api.refreshTokens();
      } catch {
        return; // signed out: the account menu says so
      }
      if (!closed) socket.connect();
    }
  });
  socket.onAny((event, payload) => each(listeners, (l) => l.onEvent(event, payload)));
  socket.on("connect", () => each(listeners, (l) => l.onLive(true)));
  socket.on("disconnect", () => each(listeners, (l) => l.onLive(false)));
  const unsubscribe = session.onChange((value) => {
    if (value && socket.connected) socket.emit("auth", { token: value.access_token });
  });
  return {
    socket,
    listeners,
    close() {
      closed = true;
      unsubscribe();
      socket.disconnect();
    },
  };
}

/**
 * Listen to the personal room: `onEvent(name, payload)` for every event, `onLive(connected)` when the
 * connection comes and goes (and at once when it is already up). An expired token is refreshed and
 * the connection made again. Returns `close()`, which ends this listener.
 */
export function personalSocket(onEvent, onLive = () => {}) {
  if (!personal) personal = openPersonal();
  const shared = personal;
  const listener = { onEvent, onLive };
  shared.listeners.add(listener);
  if (shared.socket.connected) {
    queueMicrotask(() => {
      if (shared.listeners.has(listener) && shared.socket.connected) onLive(true);
    });
  }
  return () => {
    if (!shared.listeners.delete(listener) || shared.listeners.size) return;
    shared.close();
    if (personal === shared) personal = null;
  };
}
