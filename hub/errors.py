"""One error hierarchy for the whole hub.

Each error has a stable machine `code`, an HTTP `status`, a `message` that is safe to show, and
`details` (safe, structured data). REST maps them to JSON bodies in one place; realtime acks carry
the same code. Anything that is not a `HubError` is an internal error and its text is never shown.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HubError(Exception):
    """Base of every error the hub reports to a client."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        if code is not None:
            self.code = code  # type: ignore[misc]  # a subclass may refine the code per instance
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(HubError):
    status = 400
    code = "bad_request"


class InvalidJson(BadRequest):
    code = "invalid_json"
    default_message = "The request body is not valid JSON."


class ValidationFailed(HubError):
    status = 422
    code = "validation_failed"
    default_message = "Some fields are invalid."

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message, details={"fields": fields})


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"
    default_message = "Authentication is required."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(HubError):
    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do that."


class NotFound(HubError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class MethodNotAllowed(HubError):
    status = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed here."


class Conflict(HubError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class Gone(HubError):
    status = 410
    code = "gone"
    default_message = "This resource has expired."


class PayloadTooLarge(HubError):
    status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(HubError):
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


class RateLimited(HubError):
    status = 429
    code = "rate_limited"
    default_message = "Too many requests; slow down."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message, details={"retry_after": self.retry_after}, headers={"Retry-After": str(self.retry_after)}
        )


class ServiceUnavailable(HubError):
    status = 503
    code = "unavailable"
    default_message = "A backing service is unavailable; try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 2, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})


class InternalError(HubError):
    status = 500
    code = "internal"
    default_message = "Something went wrong on our side."


# --- social --------------------------------------------------------------------------------------


class AccountRequired(Forbidden):
    """A guest tried a social write; register first."""

    code = "account_required"
    default_message = "Register an account to do that; a guest keeps its id when it registers."


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


class NotYourComment(Forbidden):
    """Someone tried to delete a comment that is neither theirs nor on their post."""

    code = "not_your_comment"
    default_message = "Only the comment's author or the post's author can delete it."


class MediaNotUsable(ValidationFailed):
    """A post named media that are not completed uploads of its author, or are attached elsewhere."""

    code = "media_not_usable"
    default_message = "Some media are not completed uploads of yours that are free to attach."


class IdempotencyKeyReused(Conflict):
    """An Idempotency-Key was sent again with a different request."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used for a different request."
