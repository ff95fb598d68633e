// The documented HTTP API, called on this page's own origin (the gateway in
// development, the ingress in production). Tokens live in sessionStorage: they
// leave with the tab, and never appear in an address.

const KEY = "xjcert.session";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function session() {
  return JSON.parse(sessionStorage.getItem(KEY) || "null");
}

export function roles() {
  return session()?.roles ?? [];
}

export function hasRole(...wanted) {
  return wanted.some((role) => roles().includes(role));
}

export function saveTokens({ access_token, refresh_token }) {
  const claims = JSON.parse(
    atob(access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")),
  );
  sessionStorage.setItem(
    KEY,
    JSON.stringify({ access_token, refresh_token, roles: claims.roles ?? [] }),
  );
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

async function refresh() {
  const current = session();
  if (!current) return false;
  const answer = await fetch("/v1/sessions/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
  });
  if (!answer.ok) {
    forget();
    return false;
  }
  saveTokens(await answer.json());
  return true;
}

// api("POST", "/v1/bookings", {...}) -> the answer's JSON (null for 204).
// A file or blob body is sent as it is; `raw` returns the Response (downloads).
export async function api(method, path, body, { raw = false, retried = false } = {}) {
  const headers = {};
  const current = session();
  if (current) headers.Authorization = `Bearer ${current.access_token}`;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  let answer;
  try {
    answer = await fetch(path, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, "network_error", "网络连接失败，请检查网络后再试。");
  }
  if (answer.status === 401 && current && !retried && (await refresh())) {
    return api(method, path, body, { raw, retried: true });
  }
  if (!answer.ok) throw await failure(answer);
  if (raw) return answer;
  if (answer.status === 204) return null;
  return answer.json();
}

async function failure(answer) {
  try {
    const { error } = await answer.json();
    return new ApiError(answer.status, error.code, error.message);
  } catch {
    if (answer.status >= 500) {
      return new ApiError(answer.status, "unavailable", "服务暂时不可用，请稍后再试。");
    }
    return new ApiError(answer.status, "unexpected", "请求没有成功，请稍后再试。");
  }
}
