// The admin API as the console calls it. Tokens live in this object only (never in storage):
// closing the tab signs out. A 401 spends the refresh token once and retries the call.
import { currentLanguage } from "./i18n.js";

/** An answer that was not 2xx: the problem's title, detail and stable code. */
export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || `HTTP ${status}`;
    this.detail = body.detail || "";
    this.code = body.code || "";
  }
}

/** A random Idempotency-Key (getRandomValues also works where randomUUID needs TLS). */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Api {
  constructor(root) {
    this.root = root;
    this.access = null;
    this.refreshToken = null;
    this.user = null;
  }

  async login(email, password) {
    this.keep(await this.call("POST", "v1/auth/login", { body: { email, password }, auth: false }));
    return this.user;
  }

  signOut() {
    this.access = this.refreshToken = this.user = null;
  }

  keep(pair) {
    this.access = pair.access_token;
    this.refreshToken = pair.refresh_token;
    this.user = pair.user;
  }

  async refresh() {
    const body = { refresh_token: this.refreshToken };
    this.keep(await this.call("POST", "v1/auth/refresh", { body, auth: false }));
  }

  get(path, query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    const text = params.toString();
    return this.call("GET", text ? `${path}?${text}` : path);
  }

  post(path, body, headers) {
    return this.call("POST", path, { body, headers });
  }

  put(path, body, headers) {
    return this.call("PUT", path, { body, headers });
  }

  async call(method, path, { body, headers = {}, auth = true, retried = false } = {}) {
    const sent = { "Accept-Language": currentLanguage(), ...headers };
    if (body !== undefined) sent["Content-Type"] = "application/json";
    if (auth && this.access) sent.Authorization = `Bearer ${this.access}`;
    const response = await fetch(new URL(path, this.root), {
      method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && auth && this.refreshToken && !retried) {
      await this.refresh();
      return this.call(method, path, { body, headers, auth, retried: true });
    }
    const text = await response.text();
    const answer = text ? JSON.parse(text) : {};
    if (!response.ok) throw new Problem(response.status, answer);
    return answer;
  }
}
