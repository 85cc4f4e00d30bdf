"""Spaces: creation, membership, invites, expiry and the authorization check every capability uses.

A non-member gets 404 for a private space's endpoints, exactly as for a space that does not exist, so
ids cannot be probed. An expired space answers 410 to its members until the sweeper purges it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.errors import (
    InviteExpired,
    InviteNotFound,
    InviteUsedUp,
    LastOwner,
    MemberNotFound,
    RoleRequired,
    SpaceExpired,
    SpaceNotFound,
    ValidationFailed,
)
from hub.events import BusEvent, space_topic
from hub.logs import log_event
from hub.metrics import Metrics
from hub.models import Principal, Role, SpaceAccess, Visibility
from hub.pagination import Cursor, Page, page_of
from hub.ports.infra import Bus
from hub.ports.spaces import InviteRecord, MemberRecord, SpaceRecord, SpaceRepo
from hub.services.identity import clean_display_name
from hub.tasks import every

log = logging.getLogger(__name__)


def new_id() -> str:
    """128 random bits, url-safe: unguessable ids for spaces, bins and invites."""
    return secrets.token_urlsafe(16)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CreatedInvite:
    invite: InviteRecord
    token: str


def require_space_id(space_id: str) -> None:
    """An id no space can have is answered like a missing space, before any query."""
    if not space_id or len(space_id) > 64:
        raise SpaceNotFound("No such space.")


@dataclass(frozen=True, slots=True)
class InvitePreview:
    """An invite as its landing page shows it; `expires_at` is when the link stops working (the invite's
    expiry or its space's, whichever comes first)."""

    space_name: str
    role: str
    expires_at: datetime


class SpaceService:
    """Everything about spaces and who may do what in them."""

    def __init__(
        self, repo: SpaceRepo, bus: Bus, metrics: Metrics, *, default_ttl: int, max_ttl: int, base_url: str
    ) -> None:
        self.repo = repo
        self.bus = bus
        self.metrics = metrics
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.base_url = base_url

    def link(self, space_id: str) -> str:
        return f"{self.base_url}/s/{space_id}"

    def invite_link(self, token: str) -> str:
        return f"{self.base_url}/join#{token}"

    def _ttl(self, ttl_seconds: int | None) -> datetime:
        ttl = self.default_ttl if ttl_seconds is None else ttl_seconds
        if not 60 <= ttl <= self.max_ttl:
            raise ValidationFailed({"ttl_seconds": f"must be between 60 and {self.max_ttl}"})
        return now() + timedelta(seconds=ttl)

    # --- authorization ---------------------------------------------------------------------------

    async def access(self, principal: Principal, space_id: str, need: Role = Role.VIEWER) -> SpaceAccess:
        """The caller's role in a live space, or NotFound / Gone / Forbidden."""
        space, role = await self._member_space(principal, space_id, need)
        return SpaceAccess(space_id=space.id, name=space.name, role=role, expires_at=space.expires_at)

    async def _member_space(self, principal: Principal, space_id: str, need: Role) -> tuple[SpaceRecord, Role]:
        # One membership query answers both the check and the record (`get` used to run it twice).
        require_space_id(space_id)
        return self.checked(await self.repo.for_member(space_id, principal.user_id), need)

    def checked(self, space: SpaceRecord | None, need: Role = Role.VIEWER) -> tuple[SpaceRecord, Role]:
        """The space read for a member (`role` set; None when not one) and the role, or the same
        NotFound / Gone / Forbidden as `access`: for reads that fetch the space with what is in it."""
        if space is None or space.role is None:
            raise SpaceNotFound("No such space.")
        if space.expires_at <= now():
            raise SpaceExpired("This space has expired.")
        role = Role(space.role)
        if not role.allows(need):
            raise RoleRequired(
                f"This needs the {need.value} role.",
                details={"role": role.value, "needed": need.value},
            )
        return space, role

    # --- spaces ----------------------------------------------------------------------------------

    async def create(
        self, principal: Principal, *, name: str, ttl_seconds: int | None, visibility: Visibility, link_role: Role
    ) -> SpaceRecord:
        if link_role == Role.OWNER:
            raise ValidationFailed({"link_role": "must be viewer or editor"})
        space = await self.repo.create(
            space_id=new_id(),
            name=clean_display_name(name, "name")[:100],
            owner_id=principal.user_id,
            visibility=visibility.value,
            link_role=link_role.value,
            expires_at=self._ttl(ttl_seconds),
        )
        log_event("space_created", space_id=space.id, owner_id=principal.user_id, visibility=space.visibility)
        return space

    async def get(self, principal: Principal, space_id: str) -> SpaceRecord:
        space, _role = await self._member_space(principal, space_id, Role.VIEWER)
        return space

    async def mine(self, principal: Principal, cursor: str | None, limit: int) -> Page[SpaceRecord]:
        after = Cursor.decode(cursor)
        rows = await self.repo.list_for_user(principal.user_id, (after.at, after.id) if after else None, limit + 1)
        page = page_of(rows, limit, lambda row: (row[1], row[0].id))
        return Page([space for space, _joined in page.items], page.next_cursor)

    async def update(
        self,
        principal: Principal,
        space_id: str,
        *,
        name: str | None = None,
        visibility: Visibility | None = None,
        link_role: Role | None = None,
        ttl_seconds: int | None = None,
    ) -> SpaceRecord:
        await self.access(principal, space_id, Role.OWNER)
        fields: dict[str, object] = {}
        if name is not None:
            fields["name"] = clean_display_name(name, "name")[:100]
        if visibility is not None:
            fields["visibility"] = visibility.value
        if link_role is not None:
            if link_role == Role.OWNER:
                raise ValidationFailed({"link_role": "must be viewer or editor"})
            fields["link_role"] = link_role.value
        if ttl_seconds is not None:
            fields["expires_at"] = self._ttl(ttl_seconds)
        space = await self.repo.update(space_id, fields)
        if space is None:
            raise SpaceNotFound("No such space.")
        await self.bus.publish(
            space_topic(space_id),
            {
                "type": BusEvent.SPACE_UPDATED,
                "space_id": space_id,
                "name": space.name,
                "visibility": space.visibility,
                "expires_at": space.expires_at.isoformat(),
            },
        )
        return dataclasses.replace(space, role="owner")

    async def delete(self, principal: Principal, space_id: str) -> None:
        await self.access(principal, space_id, Role.OWNER)
        if await self.repo.delete(space_id):
            log_event("space_deleted", space_id=space_id, by=principal.user_id)
            await self.bus.publish(space_topic(space_id), {"type": BusEvent.SPACE_DELETED, "space_id": space_id})

    async def join_by_link(self, principal: Principal, space_id: str) -> SpaceRecord:
        """Anyone holding a `link` space's id may join with its link role."""
        space = await self.repo.get(space_id) if 0 < len(space_id) <= 64 else None
        if space is None:
            raise SpaceNotFound("No such space.")
        member = await self.repo.for_member(space_id, principal.user_id)
        if member is None and space.visibility != Visibility.LINK.value:
            raise SpaceNotFound("No such space.")
        if space.expires_at <= now():
            raise SpaceExpired("This space has expired.")
        if member is None:
            await self.repo.add_member(space_id, principal.user_id, space.link_role)
            await self._member_joined(space_id, principal)
        return await self.get(principal, space_id)

    async def _member_joined(self, space_id: str, principal: Principal) -> None:
        await self.bus.publish(
            space_topic(space_id),
            {
                "type": BusEvent.MEMBER_JOINED,
                "space_id": space_id,
                "user_id": principal.user_id,
                "display_name": principal.display_name,
            },
        )

    # --- members ---------------------------------------------------------------------------------

    async def members(self, principal: Principal, space_id: str, cursor: str | None, limit: int) -> Page[MemberRecord]:
        await self.access(principal, space_id)
        after = Cursor.decode(cursor)
        rows = await self.repo.members(space_id, (after.at, after.id) if after else None, limit + 1)
        return page_of(rows, limit, lambda m: (m.joined_at, m.user_id))

    async def set_role(self, principal: Principal, space_id: str, user_id: str, role: Role) -> None:
        await self.access(principal, space_id, Role.OWNER)
        outcome = await self.repo.set_role(space_id, user_id, role.value)
        if outcome == "missing":
            raise MemberNotFound("No such member.")
        if outcome == "last_owner":
            raise LastOwner("A space needs at least one owner.")
        await self.bus.publish(
            space_topic(space_id),
            {
                "type": BusEvent.MEMBER_ROLE_CHANGED,
                "space_id": space_id,
                "user_id": user_id,
                "role": role.value,
            },
        )

    async def remove_member(self, principal: Principal, space_id: str, user_id: str) -> None:
        need = Role.VIEWER if user_id == principal.user_id else Role.OWNER
        await self.access(principal, space_id, need)
        outcome = await self.repo.remove_member(space_id, user_id)
        if outcome == "missing":
            raise MemberNotFound("No such member.")
        if outcome == "last_owner":
            raise LastOwner("The last owner cannot leave; delete the space or add an owner.")
        await self.bus.publish(
            space_topic(space_id),
            {
                "type": BusEvent.MEMBER_REMOVED,
                "space_id": space_id,
                "user_id": user_id,
            },
        )

    # --- invites ---------------------------------------------------------------------------------

    async def create_invite(
        self, principal: Principal, space_id: str, *, role: Role, max_uses: int | None, expires_in: int | None
    ) -> CreatedInvite:
        await self.access(principal, space_id, Role.OWNER)
        if role == Role.OWNER:
            raise ValidationFailed({"role": "must be viewer or editor"})
        token = secrets.token_urlsafe(24)
        expires_at = now() + timedelta(seconds=expires_in) if expires_in else None
        invite = await self.repo.create_invite(
            invite_id=new_id(),
            token_hash=hash_token(token),
            space_id=space_id,
            role=role.value,
            max_uses=max_uses,
            expires_at=expires_at,
            created_by=principal.user_id,
        )
        return CreatedInvite(invite, token)

    async def invites(self, principal: Principal, space_id: str) -> list[InviteRecord]:
        await self.access(principal, space_id, Role.OWNER)
        return await self.repo.invites(space_id)

    async def revoke_invite(self, principal: Principal, space_id: str, invite_id: str) -> None:
        await self.access(principal, space_id, Role.OWNER)
        if not await self.repo.revoke_invite(space_id, invite_id):
            raise InviteNotFound("No such invite.")

    async def invite(self, token: str) -> InvitePreview:
        """What an invite link offers, for anyone holding it (no account needed): the space's name, the
        role, and until when the link works. Nothing else about the space shows. A token that never
        existed or was revoked is the usual 404; one that no longer works says why (410)."""
        state = await self.repo.invite_state(hash_token(token)) if token and len(token) <= 200 else None
        if state is None:
            raise InviteNotFound("This invite is not valid.")
        if state.expired:
            raise InviteExpired()
        if state.max_uses is not None and state.uses >= state.max_uses:
            raise InviteUsedUp()
        ends = state.space_expires_at if state.expires_at is None else min(state.expires_at, state.space_expires_at)
        return InvitePreview(state.space_name, state.role, ends)

    async def redeem(self, principal: Principal, token: str) -> SpaceRecord:
        if not token or len(token) > 200:
            raise InviteNotFound("This invite is not valid.")
        redeemed = await self.repo.redeem_invite(hash_token(token), principal.user_id)
        # The same answers as `invite` (the landing page): 404 for a token that never worked or was
        # revoked, 410 saying why for one that no longer works.
        if redeemed is None:
            raise InviteNotFound("This invite is not valid.")
        if redeemed == "expired":
            raise InviteExpired()
        if redeemed == "used_up":
            raise InviteUsedUp()
        space_id, _role = redeemed
        await self._member_joined(space_id, principal)
        return await self.get(principal, space_id)

    # --- expiry ----------------------------------------------------------------------------------

    async def purge_expired(self, batch: int = 100) -> int:
        purged = 0
        while True:
            rows = await self.repo.purge_expired(batch)
            for space_id, name in rows:
                log_event("space_expired", space_id=space_id, name=name)
                self.metrics.spaces_expired.inc()
                await self.bus.publish(space_topic(space_id), {"type": BusEvent.SPACE_EXPIRED, "space_id": space_id})
            purged += len(rows)
            if len(rows) < batch:
                return purged

    async def sweep_forever(self, interval: float) -> None:
        await every(interval, self.purge_expired, "space sweep")
