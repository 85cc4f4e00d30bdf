// The REST client: JSON in and out, bearer auth, one transparent refresh on 401 token_expired, and
// errors as ApiError carrying the hub's stable error code (never a raw Response).
import * as codes from "./codes.js";
import { noteServerDate } from "./dom.js";
import * as session from "./session.js";

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

async function parse(response) {
  if (response.status === 204 || response.status === 304) return null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) return response.json();
  return response.text();
}

async function rawRequest(method, path, { body, headers = {}, token } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, codes.NETWORK_ERROR, "Cannot reach the hub. Check your connection and try again.");
  }
  noteServerDate(response.headers.get("date"));
  const data = await parse(response).catch(() => null);
  if (!response.ok && response.status !== 304) {
    const error = data && typeof data === "object" && data.error ? data.error : {};
    throw new ApiError(
      response.status, error.code || codes.httpCode(response.status),
      error.message || `The hub answered ${response.status}.`, error.details,
    );
  }
  return { data, response };
}

async function rotate(refreshToken) {
  const { data } = await rawRequest("POST", "/auth/refresh", { body: { refresh_token: refreshToken } });
  return data;
}

/** A fresh access token after a 401 token_expired; signs out when the refresh token is dead. */
export async function refreshTokens(staleAccess = session.accessToken()) {
  try {
    const value = await session.refreshOnce(staleAccess, rotate);
    if (!value) throw new ApiError(401, codes.SIGNED_OUT, "Please sign in again.");
    return value.access_token;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) session.forget();
    throw error;
  }
}

/**
 * `request("PATCH", url, {body, headers})` -> {data, response}. Authenticated when signed in.
 * A 401 token_expired triggers one refresh and one retry.
 */
export async function request(method, path, options = {}) {
  const token = options.auth === false ? null : session.accessToken();
  try {
    return await rawRequest(method, path, { ...options, token });
  } catch (error) {
    if (token && error instanceof ApiError && error.status === 401 && error.code === codes.TOKEN_EXPIRED) {
      const fresh = await refreshTokens(token);
      return rawRequest(method, path, { ...options, token: fresh });
    }
    if (token && error instanceof ApiError && error.status === 401) session.forget();
    throw error;
  }
}

export const get = async (path, options) => (await request("GET", path, options)).data;
export const post = async (path, body, options = {}) => (await request("POST", path, { ...options, body })).data;
export const patch = async (path, body, options = {}) => (await request("PATCH", path, { ...options, body })).data;
export const del = async (path, options) => (await request("DELETE", path, options)).data;

/** Keep the access token fresh while the page is open (a minute before it expires). */
export function keepFresh(onRefreshed) {
  let timer = null;
  const schedule = (value) => {
    clearTimeout(timer);
    if (!value) return;
    const wait = Math.max(5_000, value.expires_at - Date.now() - 60_000);
    timer = setTimeout(async () => {
      try {
        await refreshTokens(value.access_token);
      } catch {
        // A failed background refresh is retried on the next 401; a dead session signs out there.
      }
    }, Math.min(wait, 2 ** 31 - 1));
  };
  let lastToken = session.accessToken();
  schedule(session.current());
  session.onChange((value) => {
    schedule(value);
    if (value && value.access_token !== lastToken) onRefreshed?.(value.access_token);
    lastToken = value?.access_token ?? null;
  });
}

/** Human message for an error of any kind. */
export function describe(error) {
  if (error instanceof ApiError) {
    const fields = error.details?.fields;
    if (fields && typeof fields === "object") {
      const parts = Object.entries(fields).map(([name, why]) => `${name.replaceAll("_", " ")} ${why}`);
      if (parts.length) return `${error.message} ${parts.join("; ")}.`;
    }
    return error.message;
  }
  return "Something went wrong. Please try again.";
}
