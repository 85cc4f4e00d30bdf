// Every error code the web client looks at, in one place. The hub declares each of its codes once,
// as a class in hub/errors.py, and lists them all in docs/errors.md (tests/test_web_static.py checks
// that every hub code named here is one of those); the client's own codes are marked as such.
// Modules compare against these names and sets, never against string literals of their own.

// -- made up by this client (never sent by the hub) ----------------------------------------------

/** api.js: fetch itself failed, no HTTP answer at all. */
export const NETWORK_ERROR = "network_error";
/** api.js: a refresh found no session to refresh. */
export const SIGNED_OUT = "signed_out";
/** realtime.js: an event could not be sent, or its ack never came. */
export const OFFLINE = "offline";
/** api.js: an error answer without the hub's JSON body (a proxy's page, say). */
export const httpCode = (status) => `http_${status}`;

// -- credentials: hub/services/tokens.py, hub/services/identity.py, hub/services/whiteboard.py --

export const TOKEN_EXPIRED = "token_expired";
export const TOKEN_INVALID = "token_invalid";
export const TOKEN_WRONG_AUDIENCE = "token_wrong_audience";
export const TOKEN_WRONG_TYPE = "token_wrong_type";
export const TOKEN_REVOKED = "token_revoked";
export const TOKEN_REUSED = "token_reused";
/** hub/errors.py Unauthorized's own code. */
export const UNAUTHORIZED = "unauthorized";
/** hub/services/whiteboard.py: an `auth` event carrying another user's token. */
export const USER_MISMATCH = "user_mismatch";

/** Credentials no refresh can mend: the session is over. */
export const SIGNED_OUT_CODES = new Set([TOKEN_REVOKED, TOKEN_REUSED, UNAUTHORIZED, USER_MISMATCH]);
/** A fresh access token may mend these; a dead refresh token then signs out (401 from /auth/refresh). */
export const REFRESHABLE_CODES = new Set([TOKEN_EXPIRED, TOKEN_INVALID, TOKEN_WRONG_AUDIENCE, TOKEN_WRONG_TYPE]);

// -- the space: hub/errors.py SpaceNotFound, SpaceExpired -------------------------------------------

/** A missing space, or one we are no member of: the same code on REST and in acks. */
export const SPACE_NOT_FOUND = "space_not_found";
export const SPACE_EXPIRED = "space_expired";

/** A join refused because the space is missing (or we are no member), or has expired. */
export const isSpaceGone = (code) => code === SPACE_NOT_FOUND || code === SPACE_EXPIRED;

// Domain events (hub/services/spaces.py, hub/services/whiteboard.py) that end a space for us; the
// hub also closes sockets with `kicked {code}` carrying the same names (docs/realtime.md).
export const SPACE_DELETED = "space_deleted";
export const MEMBER_REMOVED = "member_removed";
export const SPACE_ENDED_CODES = new Set([SPACE_EXPIRED, SPACE_DELETED, MEMBER_REMOVED]);

// -- invites: hub/errors.py InviteNotFound, InviteExpired, InviteUsedUp ----------------------------

export const INVITE_NOT_FOUND = "invite_not_found";
export const INVITE_EXPIRED = "invite_expired";
export const INVITE_USED_UP = "invite_used_up";

// -- realtime: realtime/server.py, hub/services/whiteboard.py --------------------------------------

/** An event for a space this socket has not joined (yet). */
export const NOT_JOINED = "not_joined";
/** The socket's connection is not ready or not authenticated yet. */
export const NOT_CONNECTED = "not_connected";
/** The hub process is still starting. */
export const STARTING = "starting";
/** hub/errors.py ServiceUnavailable's code: a backing service is down. */
export const UNAVAILABLE = "unavailable";

/** Ack codes that mean "not now", not "never": the whiteboard keeps the stroke and resends it. */
// storage/postgres/db.py: PostgreSQL unreachable, too slow, or a concurrent update; strokes are
// idempotent by id, so the same stroke is sent again.
export const DB_UNAVAILABLE = "db_unavailable";
export const DB_TIMEOUT = "db_timeout";
export const DB_BUSY = "db_busy";
/** hub/errors.py ShuttingDown: the hub stops; the stroke goes again after the reconnect. */
export const SHUTTING_DOWN = "shutting_down";
/** hub/errors.py Overloaded: strokes are queued too long for their commit; resend after a pause. */
export const OVERLOADED = "overloaded";
export const TRANSIENT_ACK_CODES = new Set([
  NOT_JOINED, NOT_CONNECTED, STARTING, UNAVAILABLE, DB_UNAVAILABLE, DB_TIMEOUT, DB_BUSY, SHUTTING_DOWN, OVERLOADED,
]);

// -- limits and edits: hub/errors.py, hub/services/bins.py ----------------------------------------

export const RATE_LIMITED = "rate_limited";
/** hub/errors.py ValidationFailed: fields of the request are invalid; details.fields has a message per field. */
export const VALIDATION_FAILED = "validation_failed";
/** A bin saved over a newer version (If-Match); details.current_version says which. */
export const VERSION_CONFLICT = "version_conflict";

// -- profiles and the social graph: hub/errors.py (the "social" section) --------------------------

/** A social write by a guest: the client shows "register to follow" instead of the buttons. */
export const ACCOUNT_REQUIRED = "account_required";
/** No such account, or one that blocks us: the same answer, so the profile reads "not found". */
export const USER_NOT_FOUND = "user_not_found";
/** A follow request that was withdrawn (or answered in another tab) meanwhile. */
export const FOLLOW_REQUEST_NOT_FOUND = "follow_request_not_found";

// -- posts, likes, comments and media: hub/errors.py (the "social" section) -----------------------

/** A missing post, or one we may not see (its visibility, a block): the card leaves its list. */
export const POST_NOT_FOUND = "post_not_found";
/** A comment deleted meanwhile (in another tab, or by the post's author). */
export const COMMENT_NOT_FOUND = "comment_not_found";
/** A compose's retry with the same Idempotency-Key but another body: the client takes a fresh key. */
export const IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused";

// -- notifications: hub/errors.py NotificationNotFound ---------------------------------------------

/** A notification gone meanwhile (its post or comment was deleted, or its actor blocked): it leaves the list. */
export const NOTIFICATION_NOT_FOUND = "notification_not_found";
