"""One error hierarchy for the whole hub, and the one declaration of every error code.

Each error has a stable machine `code`, an HTTP `status`, a `message` that is safe to show, and
`details` (safe, structured data). REST maps them to JSON bodies in one place; realtime acks carry
the same code. Anything that is not a `HubError` is an internal error and its text is never shown.

One class per failure, with a one-line docstring saying when it happens (httpx `_exceptions.py`):
a raise site names the class (`raise SpaceNotFound()`), never a code string, and the reference of
codes (`docs/errors.md`, `hub errors --reference`) is generated from these classes. The generic
classes (`NotFound`, `Conflict`, …) are the bases that handlers catch by kind; a few are raised
as they are where nothing more specific applies. `retryable` says whether the same request may
succeed later without any change (an outage, a rate limit), so clients back off and try again.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar


class HubError(Exception):
    """The request could not be processed (the base of every error the hub reports to a client)."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    retryable: ClassVar[bool] = False
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


# -- 400: the request itself is wrong -----------------------------------------------------------


class BadRequest(HubError):
    """The request could not be processed, and no more specific code applies."""

    status = 400
    code = "bad_request"


@functools.cache
def client_error(status: int) -> type[BadRequest]:
    """`bad_request` with another 4xx status, for the framework's rarer refusals (a request timeout, say).

    A class per status, so that `status` stays a class attribute; the code is `BadRequest`'s.
    """
    return type(f"ClientError{status}", (BadRequest,), {"status": status, "__doc__": BadRequest.__doc__})


class MalformedRequest(BadRequest):
    """The request is not valid HTTP, a header or form is malformed, or a multipart body is broken."""

    code = "malformed_request"
    default_message = "The request is malformed."


class InvalidJson(BadRequest):
    """The request body is not valid JSON."""

    code = "invalid_json"
    default_message = "The request body is not valid JSON."


class JsonTooDeep(BadRequest):
    """The JSON body is nested deeper than `HUB_JSON_MAX_DEPTH`."""

    code = "json_too_deep"
    default_message = "The JSON body is nested too deeply."


class NulByte(BadRequest):
    """A JSON string or key contains a NUL character."""

    code = "nul_byte"
    default_message = "NUL characters are not allowed."


class NumberOutOfRange(BadRequest):
    """A JSON number is too large for the hub to store."""

    code = "number_out_of_range"
    default_message = "A number is out of range."


class InvalidValue(BadRequest):
    """The database refused a value as out of range or malformed."""

    code = "invalid_value"
    default_message = "A value is out of range or malformed."


class InvalidCursor(BadRequest):
    """A pagination cursor is not one this API handed out."""

    code = "invalid_cursor"
    default_message = "The cursor is invalid."


class InvalidIfMatch(BadRequest):
    """An If-Match header is neither an ETag of this API nor `*`."""

    code = "invalid_if_match"
    default_message = 'If-Match must be an ETag from this API, e.g. "v3", or *.'


class EntityTooSmall(BadRequest):
    """An upload to a signed URL is smaller than its policy or signed part size allows."""

    code = "entity_too_small"
    default_message = "The upload is smaller than allowed."


class InvalidPart(BadRequest):
    """Completing a multipart upload named a part that was not uploaded or whose ETag differs."""

    code = "invalid_part"
    default_message = "The uploaded parts are invalid."


class NotJoined(BadRequest):
    """A realtime event for a space this socket has not joined (yet); join, then send it again."""

    code = "not_joined"
    retryable = True
    default_message = "Join the space first."


class UnknownEvent(BadRequest):
    """A realtime event whose name the hub does not handle."""

    code = "unknown_event"
    default_message = "Unknown event."


class BadPayload(BadRequest):
    """A realtime event without exactly one payload object, or a long-poll body that does not decode."""

    code = "bad_payload"
    default_message = "An event carries exactly one payload object."


class SessionNotFound(BadRequest):
    """A long-poll request for an Engine.IO session that is unknown, expired or cannot take it."""

    code = "session_not_found"
    default_message = "Unknown or expired realtime session."


class UnsupportedProtocol(BadRequest):
    """An Engine.IO client older than protocol 4 (Socket.IO clients before 3)."""

    code = "unsupported_protocol"
    default_message = "Only Engine.IO protocol 4 (Socket.IO clients 3 and later) is supported."


class BadTransport(BadRequest):
    """An Engine.IO transport that is unknown, or a WebSocket transport without a WebSocket upgrade."""

    code = "bad_transport"
    default_message = "Unsupported transport."


# -- 401: who is asking is unknown --------------------------------------------------------------


class Unauthorized(HubError):
    """Authentication is required, and no more specific code applies."""

    status = 401
    code = "unauthorized"
    default_message = "Authentication is required."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class TokenMissing(Unauthorized):
    """A route that needs a bearer token got none."""

    code = "token_missing"
    default_message = "A bearer token is required."


class TokenInvalid(Unauthorized):
    """A token that is missing where required, malformed, badly signed or of an unknown algorithm or key."""

    code = "token_invalid"
    default_message = "The token is invalid."


class TokenExpired(Unauthorized):
    """The access token's lifetime is over; refresh it and try again."""

    code = "token_expired"
    default_message = "The token has expired."


class TokenWrongAudience(Unauthorized):
    """A token issued for another service (its `aud` claim)."""

    code = "token_wrong_audience"
    default_message = "The token is for another audience."


class TokenWrongType(Unauthorized):
    """A refresh token where an access token is needed, or the other way round."""

    code = "token_wrong_type"
    default_message = "The token is of the wrong type."


class TokenRevoked(Unauthorized):
    """The session or user was signed out (logout, logout-all, a deleted account), or the token is unknown."""

    code = "token_revoked"
    default_message = "The token was revoked."


class TokenReused(Unauthorized):
    """A refresh token was used a second time; the whole session is revoked."""

    code = "token_reused"
    default_message = "This refresh token was already used; the session is revoked."


class InvalidCredentials(Unauthorized):
    """A sign-in with a wrong username or password."""

    code = "invalid_credentials"
    default_message = "Wrong username or password."


class MetricsTokenInvalid(Unauthorized):
    """`/metrics` without the bearer token of `HUB_METRICS_TOKEN`."""

    code = "metrics_token_invalid"
    default_message = "A valid metrics token is required."


# -- 403: known, but not allowed ----------------------------------------------------------------


class Forbidden(HubError):
    """Not allowed, and no more specific code applies."""

    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do that."


class RoleRequired(Forbidden):
    """A member whose role is too low for the action (a viewer drawing or writing, say)."""

    code = "role_required"
    default_message = "Your role does not allow this."


class UserMismatch(Forbidden):
    """A realtime `auth` event carrying another user's token."""

    code = "user_mismatch"
    default_message = "The token belongs to another user."


class OriginNotAllowed(Forbidden):
    """A browser request or socket from an Origin that `HUB_CORS_ORIGINS` does not allow."""

    code = "origin_not_allowed"
    default_message = "Origin not allowed."


class SignatureMismatch(Forbidden):
    """A signed blob URL whose token is missing, tampered with or for another request."""

    code = "signature_mismatch"
    default_message = "The URL signature does not match."


class UrlExpired(Forbidden):
    """A signed blob URL past its expiry."""

    code = "url_expired"
    default_message = "The URL has expired."


class PolicyConditionFailed(Forbidden):
    """A form upload to a presigned POST whose fields break the signed policy."""

    code = "policy_condition_failed"
    default_message = "Invalid according to policy: a condition failed."


# -- 404: nothing there (or nothing the caller may know of) -------------------------------------


class NotFound(HubError):
    """An unknown path or resource, where no more specific code applies."""

    status = 404
    code = "not_found"
    default_message = "Not found."


class SpaceNotFound(NotFound):
    """A missing space, or one the caller is no member of (the same answer, so ids cannot be probed)."""

    code = "space_not_found"
    default_message = "No such space."


class MemberNotFound(NotFound):
    """A member id that is not a member of the space."""

    code = "member_not_found"
    default_message = "No such member."


class InviteNotFound(NotFound):
    """An invite token that was never issued or was revoked, or whose space was taken down."""

    code = "invite_not_found"
    default_message = "This invite is not valid."


class BinNotFound(NotFound):
    """A missing bin, or one in a space the caller cannot see."""

    code = "bin_not_found"
    default_message = "No such bin."


class RevisionNotFound(NotFound):
    """A bin revision that does not exist."""

    code = "revision_not_found"
    default_message = "No such revision."


class FileNotFound(NotFound):
    """A missing file, or one in a space the caller is no member of."""

    code = "file_not_found"
    default_message = "No such file."


class VariantNotFound(NotFound):
    """A media variant (thumbnail, preview) the file does not have (yet)."""

    code = "variant_not_found"
    default_message = "No such variant."


class StaticNotFound(NotFound):
    """A web client file that does not exist."""

    code = "static_not_found"
    default_message = "No such file."


class NoSuchKey(NotFound):
    """The blob store has no object (or upload) under that key."""

    code = "no_such_key"
    default_message = "No such object."


class NoSuchUpload(NotFound):
    """The blob store has no multipart upload of that id (unknown, completed or aborted)."""

    code = "no_such_upload"
    default_message = "No such multipart upload."


# -- 405 ------------------------------------------------------------------------------------------


class MethodNotAllowed(HubError):
    """An HTTP method the path does not serve; `Allow` lists those it does."""

    status = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed here."


# -- 409: the state does not allow it -----------------------------------------------------------


class Conflict(HubError):
    """The request conflicts with the current state (a duplicate, say), and no more specific code applies."""

    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class UsernameTaken(Conflict):
    """Registering a username that another account has."""

    code = "username_taken"
    default_message = "That username is taken."


class AlreadyRegistered(Conflict):
    """Registering an account that is already registered."""

    code = "already_registered"
    default_message = "This account is already registered."


class LastOwner(Conflict):
    """Removing, demoting or leaving as the space's last owner."""

    code = "last_owner"
    default_message = "A space needs at least one owner."


class VersionConflict(Conflict):
    """Saving a bin over a newer version (If-Match); `details.current_version` says which."""

    code = "version_conflict"
    default_message = "The bin was changed since that version."


class StrokeIdTaken(Conflict):
    """A stroke id that someone else already used in the space."""

    code = "stroke_id_taken"
    default_message = "That stroke id is already used."


class ChangeIdTaken(Conflict):
    """A board change id (transform, restore) already used by someone else or for another kind."""

    code = "change_id_taken"
    default_message = "That change id is already used."


class NotMultipart(Conflict):
    """A multipart action on a file that is not a multipart upload in progress."""

    code = "not_multipart"
    default_message = "This file is not a multipart upload in progress."


class UploadIncomplete(Conflict):
    """Completing an upload whose object or parts have not all been uploaded yet."""

    code = "upload_incomplete"
    default_message = "The object has not been uploaded yet."


class NotPending(Conflict):
    """Aborting a file that is not an upload in progress."""

    code = "not_pending"
    default_message = "Only an upload in progress can be aborted."


class FileNotReady(Conflict):
    """Downloading a file that has not finished uploading."""

    code = "file_not_ready"
    default_message = "The file has not finished uploading."


# -- 410: it was there ------------------------------------------------------------------------


class Gone(HubError):
    """The resource has expired, and no more specific code applies."""

    status = 410
    code = "gone"
    default_message = "This resource has expired."


class SpaceExpired(Gone):
    """The space's lifetime is over (until the sweeper purges it)."""

    code = "space_expired"
    default_message = "This space has expired."


class InviteExpired(Gone):
    """An invite past its expiry, or whose space has expired."""

    code = "invite_expired"
    default_message = "This invite has expired."


class InviteUsedUp(Gone):
    """An invite that has been used as many times as it allows."""

    code = "invite_used_up"
    default_message = "This invite has been used up."


class BinExpired(Gone):
    """The bin's lifetime is over."""

    code = "bin_expired"
    default_message = "This bin has expired."


class FileExpired(Gone):
    """The file's lifetime is over."""

    code = "file_expired"
    default_message = "This file has expired."


class DownloadLimitReached(Gone):
    """The file was downloaded as often as its limit allows."""

    code = "download_limit_reached"
    default_message = "This file has reached its maximum number of downloads."


# -- 413, 415, 416, 422, 428 --------------------------------------------------------------------


class PayloadTooLarge(HubError):
    """A request body over `HUB_BODY_LIMIT_BYTES` (or a long-poll body over the message limit)."""

    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class FileTooLarge(PayloadTooLarge):
    """A file larger than `HUB_FILE_MAX_BYTES`."""

    code = "file_too_large"
    default_message = "The file is larger than allowed."


class EntityTooLarge(PayloadTooLarge):
    """An upload to a signed URL larger than its policy or the maximum part size allows."""

    code = "entity_too_large"
    default_message = "The upload exceeds the maximum allowed size."


class ObjectTooLarge(PayloadTooLarge):
    """A stored object read past the size the reader allows."""

    code = "object_too_large"
    default_message = "The object is larger than allowed."


class QuotaExceeded(HubError):
    """An upload that would take the space over its storage quota (`HUB_SPACE_QUOTA_BYTES`)."""

    status = 413
    code = "quota_exceeded"
    default_message = "The space's storage quota would be exceeded."


class UnsupportedMediaType(HubError):
    """A request body that is not `application/json` where JSON is expected."""

    status = 415
    code = "unsupported_media_type"
    default_message = "The request body must be application/json."


class RangeNotSatisfiable(HubError):
    """A single byte range that starts past the end of the object (or asks for zero bytes)."""

    status = 416
    code = "range_not_satisfiable"
    default_message = "The requested byte range is outside the object."

    def __init__(self, size: int) -> None:
        super().__init__(details={"size": size}, headers={"Content-Range": f"bytes */{size}"})


class ValidationFailed(HubError):
    """Fields of the request are invalid; `details.fields` says which and why."""

    status = 422
    code = "validation_failed"
    default_message = "Some fields are invalid."

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message, details={"fields": fields})


class UploadMismatch(HubError):
    """The uploaded object differs from what was declared (size, type, checksum, parts); it was deleted."""

    status = 422
    code = "upload_mismatch"
    default_message = "The uploaded object does not match what was declared; it was deleted."


class PreconditionRequired(HubError):
    """Updating a bin without If-Match (or a `version` field)."""

    status = 428
    code = "precondition_required"
    default_message = "Send If-Match with the bin's ETag (or a `version` field) to update it."


# -- 429 ------------------------------------------------------------------------------------------


class RateLimited(HubError):
    """Too many requests, connects or realtime events; `details.retry_after` says how many seconds to wait."""

    status = 429
    code = "rate_limited"
    retryable = True
    default_message = "Too many requests; slow down."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message, details={"retry_after": self.retry_after}, headers={"Retry-After": str(self.retry_after)}
        )


# -- 500 ------------------------------------------------------------------------------------------


class InternalError(HubError):
    """A bug; the details are only in the server log."""

    status = 500
    code = "internal"
    default_message = "Something went wrong on our side."


# -- 503: not now -------------------------------------------------------------------------------


class ServiceUnavailable(HubError):
    """A backing service is unreachable, and no more specific code applies."""

    status = 503
    code = "unavailable"
    retryable = True
    default_message = "A backing service is unavailable; try again shortly."
    # Seconds a client should wait (the Retry-After header).
    retry_after: ClassVar[int] = 2

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details, headers={"Retry-After": str(self.retry_after)})


class Starting(ServiceUnavailable):
    """The hub process is still starting."""

    code = "starting"
    default_message = "The hub is starting."


class ShuttingDown(ServiceUnavailable):
    """The hub is stopping and takes no more writes; the client reconnects (to another instance) and resends."""

    code = "shutting_down"
    default_message = "The hub is shutting down; reconnect and try again."
    retry_after = 1


class Overloaded(ServiceUnavailable):
    """Too far behind to answer in time (strokes queued past `HUB_STROKE_QUEUE_MAX_WAIT_MS`); resend later."""

    # The client keeps the stroke and sends it again after `details.retry_after` seconds. Refusing
    # early keeps every ack within the clients' timeouts; taking everything would let the wait grow
    # without bound.
    code = "overloaded"
    default_message = "The hub is busy; try again shortly."
    retry_after = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, details={"retry_after": self.retry_after})


class NotReady(ServiceUnavailable):
    """`/readyz` when a backing service fails its check; `details` has each check's outcome."""

    code = "not_ready"
    default_message = "Not ready."


class NotConnected(ServiceUnavailable):
    """A realtime event on a socket whose connection is not (or no longer) set up."""

    code = "not_connected"
    default_message = "The connection is not ready."


class DbUnavailable(ServiceUnavailable):
    """PostgreSQL is unreachable or refused the connection."""

    code = "db_unavailable"
    default_message = "The database is unavailable."


class DbTimeout(ServiceUnavailable):
    """PostgreSQL took longer than `HUB_DB_COMMAND_TIMEOUT` to answer."""

    code = "db_timeout"
    default_message = "The database took too long to answer."


class DbBusy(ServiceUnavailable):
    """A concurrent update made the database give up the statement (a serialization failure)."""

    code = "db_busy"
    default_message = "Concurrent update; retry."
    retry_after = 1


class RedisUnavailable(ServiceUnavailable):
    """Redis is unreachable (the readiness check)."""

    code = "redis_unavailable"
    default_message = "Redis is unreachable."


class BusNotReady(ServiceUnavailable):
    """The Redis pub/sub subscription is not established, or its canary was not received (readiness)."""

    code = "bus_not_ready"
    default_message = "Redis subscription is not established."


class PresenceUnavailable(ServiceUnavailable):
    """The presence store (Redis) is unreachable; a join degrades instead of failing."""

    code = "presence_unavailable"
    default_message = "Presence is unavailable."


class ReplayUnavailable(ServiceUnavailable):
    """The replay buffer (Redis) is unreachable; a join falls back to a snapshot."""

    code = "replay_unavailable"
    default_message = "The replay buffer is unavailable."


class QueueUnavailable(ServiceUnavailable):
    """The media job queue (Redis) is unreachable."""

    code = "queue_unavailable"
    default_message = "The job queue is unavailable."


class BlobStoreUnavailable(ServiceUnavailable):
    """The blob store (S3 or the local blob directory) is unreachable, refuses or is not writable."""

    code = "blob_store_unavailable"
    default_message = "The object store is unreachable."


def all_errors() -> list[type[HubError]]:
    """Every error class of this module but the base, in declaration order (the codes reference)."""
    return [
        value
        for value in globals().values()
        if isinstance(value, type) and issubclass(value, HubError) and value is not HubError
    ]


def codes() -> dict[str, type[HubError]]:
    """Every code and the one class that declares it."""
    found: dict[str, type[HubError]] = {}
    for cls in all_errors():
        if cls.code in found and found[cls.code] is not cls:
            raise AssertionError(f"{cls.__name__} repeats the code {cls.code!r} of {found[cls.code].__name__}")
        found.setdefault(cls.code, cls)
    return found


# --- social --------------------------------------------------------------------------------------


class AccountRequired(Forbidden):
    """A guest tried a social write; register first."""

    code = "account_required"
    default_message = "Register an account to do that; a guest keeps its id when it registers."


class AccountSuspended(Forbidden):
    """A suspended account tried to sign in; `details.until` ends it (null: until a moderator lifts it)."""

    code = "account_suspended"
    default_message = "This account is suspended."


class ModeratorRequired(Forbidden):
    """A moderation endpoint called by an account that is not a moderator (or, for role changes, an admin)."""

    code = "moderator_required"
    default_message = "This needs a moderator."


class AdminRequired(Forbidden):
    """A role change asked of an account that is not an admin."""

    code = "admin_required"
    default_message = "This needs an admin."


class ReportNotFound(NotFound):
    """No such report."""

    code = "report_not_found"
    default_message = "No such report."


class UserNotFound(NotFound):
    """No such profile, or one whose owner blocks the caller: the same answer, so blocks cannot be probed."""

    code = "user_not_found"
    default_message = "No such user."


class NotYourProfile(Forbidden):
    """Someone tried to edit a profile that is not their own."""

    code = "not_your_profile"
    default_message = "You can only change your own profile."


class SelfRelationship(BadRequest):
    """An account tried to follow, block or mute itself."""

    code = "self_relationship"
    default_message = "You cannot follow, block or mute yourself."


class FollowLimit(Conflict):
    """The account already follows as many accounts as HUB_MAX_FOLLOWING allows."""

    code = "follow_limit"
    default_message = "You follow as many accounts as allowed; unfollow some first."


class UnblockFirst(Conflict):
    """The caller tried to follow an account it blocks."""

    code = "unblock_first"
    default_message = "You block this account; unblock it first."


class FollowRequestNotFound(NotFound):
    """No pending follow request with that id addressed to the caller."""

    code = "follow_request_not_found"
    default_message = "No such follow request."


class FeedCacheUnavailable(ServiceUnavailable):
    """The home feed's cache (Redis when scaled out) did not answer; the feed can be read from the database."""

    code = "feed_cache_unavailable"
    default_message = "The feed cache is unavailable; try again shortly."


class MediaNotFound(NotFound):
    """No such media, or not one of the caller's: the same answer, so media ids cannot be probed."""

    code = "media_not_found"
    default_message = "No such media."


class MediaTooLarge(PayloadTooLarge):
    """The declared image is larger than HUB_MEDIA_UPLOAD_MAX_BYTES."""

    code = "media_too_large"
    default_message = "The image is larger than allowed."


class PostNotFound(NotFound):
    """No such post, or not one you may see."""

    code = "post_not_found"
    default_message = "No such post."


class NotYourPost(Forbidden):
    """Someone tried to edit or delete a post that is not their own."""

    code = "not_your_post"
    default_message = "Only the author can do that to a post."


class CommentNotFound(NotFound):
    """No such comment on this post, or not one you may see."""

    code = "comment_not_found"
    default_message = "No such comment."


class NotificationNotFound(NotFound):
    """No such notification of yours (another account's is the same answer)."""

    code = "notification_not_found"
    default_message = "No such notification."


class NotYourComment(Forbidden):
    """Someone tried to delete a comment that is neither theirs nor on their post."""

    code = "not_your_comment"
    default_message = "Only the comment's author or the post's author can delete it."


class MediaNotUsable(ValidationFailed):
    """A post named media that are someone else's, pending, refused by the media worker, or attached elsewhere."""

    code = "media_not_usable"
    default_message = "Some media are not completed uploads of yours that are free to attach."


class IdempotencyKeyReused(Conflict):
    """An Idempotency-Key was sent again with a different request."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used for a different request."
