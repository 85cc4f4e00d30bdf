"""Accounts and tokens: register, login, guest, refresh, logout, me."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sanic import Blueprint, HTTPResponse, Request
from sanic.response import empty

from hub.ports.identity import UserRecord
from hub.services.identity import IssuedTokens
from rest.auth import authenticate, limit_auth, optional_principal
from rest.body import json_body
from rest.context import hub
from rest.jsonutil import json
from rest.openapi import endpoint
from rest.schemas import OutModel

bp = Blueprint("auth", url_prefix="")


class RegisterIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field(min_length=1, max_length=128)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class GuestIn(BaseModel):
    display_name: str = Field(min_length=1, max_length=128)


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class MePatch(BaseModel):
    display_name: str = Field(min_length=1, max_length=128)


class UserOut(OutModel):
    id: str
    username: str | None
    display_name: str
    is_guest: bool
    created_at: datetime


class TokensOut(OutModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    user: UserOut


def user_out(user: UserRecord) -> UserOut:
    return UserOut.model_validate(user)


def tokens_out(issued: IssuedTokens, status: int = 200) -> HTTPResponse:
    return json(TokensOut.model_validate(issued), status=status, headers={"Cache-Control": "no-store"})


@endpoint(
    bp,
    "POST",
    "/auth/register",
    summary="Create an account (a guest's token upgrades that guest).",
    body=RegisterIn,
    response=TokensOut,
    status=201,
    errors=(409,),
    auth=False,
)
async def register(request: Request) -> HTTPResponse:
    await limit_auth(request)
    data = json_body(request, RegisterIn)
    guest = await optional_principal(request)
    issued = await hub(request).identity.register(data.username, data.password, data.display_name, guest=guest)
    return tokens_out(issued, 201)


@endpoint(
    bp,
    "POST",
    "/auth/login",
    summary="Log in with username and password.",
    body=LoginIn,
    response=TokensOut,
    auth=False,
    errors=(401,),
)
async def login(request: Request) -> HTTPResponse:
    await limit_auth(request)
    data = json_body(request, LoginIn)
    return tokens_out(await hub(request).identity.login(data.username, data.password))


@endpoint(
    bp, "POST", "/auth/guest", summary="Continue as a guest.", body=GuestIn, response=TokensOut, status=201, auth=False
)
async def guest(request: Request) -> HTTPResponse:
    await limit_auth(request)
    data = json_body(request, GuestIn)
    return tokens_out(await hub(request).identity.guest(data.display_name), 201)


@endpoint(
    bp,
    "POST",
    "/auth/refresh",
    summary="Rotate a refresh token for a new token pair.",
    body=RefreshIn,
    response=TokensOut,
    auth=False,
    errors=(401,),
)
async def refresh(request: Request) -> HTTPResponse:
    await limit_auth(request)
    data = json_body(request, RefreshIn)
    return tokens_out(await hub(request).identity.refresh(data.refresh_token))


@endpoint(
    bp, "POST", "/auth/logout", summary="End this session (its access and refresh tokens).", status=204, content="empty"
)
async def logout(request: Request) -> HTTPResponse:
    await hub(request).identity.logout(await authenticate(request))
    return empty()


@endpoint(bp, "POST", "/auth/logout-all", summary="End every session of this account.", status=204, content="empty")
async def logout_all(request: Request) -> HTTPResponse:
    await hub(request).identity.logout_all(await authenticate(request))
    return empty()


@endpoint(bp, "GET", "/auth/me", summary="The current account.", response=UserOut)
async def me(request: Request) -> HTTPResponse:
    return json(user_out(await hub(request).identity.me(await authenticate(request))))


@endpoint(bp, "PATCH", "/auth/me", summary="Change the display name.", body=MePatch, response=UserOut)
async def patch_me(request: Request) -> HTTPResponse:
    principal = await authenticate(request)
    data = json_body(request, MePatch)
    return json(user_out(await hub(request).identity.rename(principal, data.display_name)))
