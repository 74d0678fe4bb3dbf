// The REST API with the signed-in user's bearer token. The token lives in sessionStorage only
// (never a cookie, so no request carries it unless this code adds it, and it is gone with the tab).

const TOKEN_KEY = "depot.token";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
  },
  signOut() {
    sessionStorage.clear(); // the token and whatever else this tab remembered for the user
  },
  /** The user id and expiry the token claims (read, not verified: the server verifies it). */
  claims(token = this.token) {
    return tokenClaims(token);
  },
};

export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join(""),
    );
    const claims = JSON.parse(json);
    return { user: String(claims.sub ?? ""), expires: claims.exp ? new Date(claims.exp * 1000) : null };
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(status, code, message, response) {
    super(message);
    this.status = status;
    this.code = code;
    this.response = response;
  }
}

let onUnauthenticated = () => {};
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

async function failure(response) {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch {
    // not a JSON error body: keep the status line
  }
  if (response.status === 429) {
    const retry = response.headers.get("Retry-After");
    if (retry) message = `${message} (try again in ${retry} s)`;
  }
  return new ApiError(response.status, code, message, response);
}

/** A fetch with the token; throws ApiError with the server's message when the status is not 2xx/304. */
export async function request(path, { method = "GET", json, body, headers = {}, signal } = {}) {
  const sent = { ...headers };
  if (session.token) sent.Authorization = `Bearer ${session.token}`;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers: sent, body, signal, credentials: "omit" });
  if (!response.ok) {
    const error = await failure(response);
    if (response.status === 401) onUnauthenticated(error);
    throw error;
  }
  return response;
}

/** The parsed JSON body of a request (null for 204). */
export async function api(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function filenameOf(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (utf8) {
    try {
      return decodeURIComponent(utf8[1]);
    } catch {
      // a malformed name: fall through to the ASCII one
    }
  }
  const ascii = /filename="([^"]*)"/i.exec(header);
  return ascii ? ascii[1] : fallback;
}

/** Fetches bytes with the token and hands them to the browser as a download. */
export async function download(path, fallbackName = "download") {
  const response = await request(path);
  const blob = await response.blob();
  const name = filenameOf(response, fallbackName);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, size: blob.size };
}
