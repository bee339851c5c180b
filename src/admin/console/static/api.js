// The console's one way to the server: same-origin fetches to the admin API and /ui/api/.
// The CSRF token lives in this module's memory only (never in storage or a URL); the
// session itself is an HttpOnly cookie the page cannot read.
let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

/** A problem+json answer, thrown. `problems` carries the server's field paths. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.code = typeof body?.type === 'string' ? body.type.replace('urn:northgate:problem:', '') : null;
    this.problems = Array.isArray(body?.problems) ? body.problems : [];
  }
}

/** Listeners told when a call comes back 401 (the session ended). */
const signedOut = new Set();
export const onSignedOut = (fn) => (signedOut.add(fn), () => signedOut.delete(fn));

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf !== null) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let json = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/ui/api/session')) for (const fn of signedOut) fn();
    throw new ApiError(res.status, json);
  }
  return json;
}

export const get = (path) => api('GET', path);
