"""Capability wiring used by the composition root (`hub.app.build_hub`).

Each function builds one capability's repositories and services from the hub's settings and backends,
registers its health checks and background loops, and sets the hub attribute the adapters use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from argon2 import PasswordHasher, Type

from hub.services.tokens import TokenSigner, generate_key_file, load_private_key, load_public_key

if TYPE_CHECKING:
    from hub.app import Hub


def _signer(hub: Hub) -> TokenSigner:
    s = hub.settings
    material = s.signing_key or generate_key_file(s.data_path / "signing_key.pem")
    extra = [load_public_key(k) for k in s.verification_keys.split(",") if k.strip()]
    return TokenSigner(load_private_key(material), s.token_audience, extra)


async def wire_identity_spaces_bins(hub: Hub) -> None:
    from hub.services.bins import BinService
    from hub.services.identity import IdentityService
    from hub.services.spaces import SpaceService
    from storage.postgres.identity import PostgresRefreshTokenRepo, PostgresUserRepo
    from storage.postgres.spaces import PostgresBinRepo, PostgresSpaceRepo

    s = hub.settings
    hasher = PasswordHasher(
        time_cost=s.argon2_time_cost, memory_cost=s.argon2_memory_kib, parallelism=s.argon2_parallelism,
        type=Type.ID,
    )
    hub.identity = IdentityService(
        PostgresUserRepo(hub.db), PostgresRefreshTokenRepo(hub.db), _signer(hub), hub.kv, hub.bus,
        access_ttl=s.access_token_ttl, refresh_ttl=s.refresh_token_ttl, hasher=hasher,
    )
    hub.spaces = SpaceService(
        PostgresSpaceRepo(hub.db), hub.bus, hub.metrics, default_ttl=s.space_default_ttl,
        max_ttl=s.space_max_ttl, base_url=s.base_url,
    )
    hub.bins = BinService(PostgresBinRepo(hub.db), hub.spaces, hub.bus, max_chars=s.bin_max_chars)
    if s.sweep_interval > 0:
        hub.spawn(hub.spaces.sweep_forever(s.sweep_interval), "space-sweeper")
        hub.spawn(hub.bins.sweep_forever(s.sweep_interval), "bin-sweeper")
