// The console's only way to the data: the service's public API, with the signed-in user's own token.
const KEY = 'cf-events-console-token';

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Per tab (sessionStorage): closing the tab logs out, and no other site can read it.
export const token = () => sessionStorage.getItem(KEY);
export const setToken = (value) => sessionStorage.setItem(KEY, value.trim().replace(/^bearer\s+/i, ''));
export const clearToken = () => sessionStorage.removeItem(KEY);

// The token's claims, for the header only: the API decides what the user may see, not these.
export function claims() {
  try {
    const part = (token() || '').split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch { return {}; }
}

// Each dialect words its errors differently (app/errors.py); one line for a person.
function describe(body, status) {
  if (!body) return `HTTP ${status}`;
  return body.errors?.[0]?.detail || body.description || body.error_description || body.error || `HTTP ${status}`;
}

export async function api(path, { accept = 'application/json' } = {}) {
  const response = await fetch(path, { headers: { Authorization: `bearer ${token()}`, Accept: accept } });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    if (response.status === 401) {
      clearToken();
      window.dispatchEvent(new Event('console:logged-out'));
    }
    throw new ApiError(response.status, describe(body, response.status));
  }
  return accept === 'application/json' ? response.json() : response.blob();
}

// v3 query strings: keys as CC reads them (created_ats[gte]), values escaped, empty ones left out.
export function query(params) {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== '');
  return pairs.length ? '?' + pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&') : '';
}

// The built-in issuer (GET /login answers only when it is on); otherwise a UAA's token is pasted.
export async function issuerIsOn() {
  const response = await fetch('/login', { headers: { Accept: 'application/json' } }).catch(() => null);
  return Boolean(response && response.ok);
}

export async function login(username, password) {
  const response = await fetch('/oauth/token', {
    method: 'POST',
    // cf's own client, with no secret, as cf login sends it.
    headers: { Authorization: `Basic ${btoa('cf:')}`, Accept: 'application/json',
               'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, describe(body, response.status));
  setToken(body.access_token);
}

// The catalogue (public, small, fixed while the service runs): fetched once.
let catalogue;
export function eventCatalogue() {
  catalogue ||= Promise.all([api('/v1/event_types'), api('/v1/event_categories')]).then(([types, categories]) => ({
    types: new Map(types.event_types.map((t) => [t.id, t])),
    categories: categories.event_categories,
  }));
  return catalogue;
}

// Resources by guid from /v3/apps, /v3/spaces or /v3/organizations, as far as this user may see them (a guid
// the API does not show them is left out, and a failed look-up leaves all out: the page still shows guids).
// Asked in batches of 100 guids, so that each request line stays far below a proxy's 8 KB.
const BATCH = 100;
export async function resourcesOf(collection, guids) {
  const wanted = [...new Set(guids.filter(Boolean))];
  const batches = [];
  for (let i = 0; i < wanted.length; i += BATCH) batches.push(wanted.slice(i, i + BATCH));
  const found = await Promise.all(batches.map((batch) => api(`/v3/${collection}${query({ guids: batch.join(','), per_page: BATCH })}`)
    .then((body) => body.resources, () => [])));
  return new Map(found.flat().map((r) => [r.guid, r]));
}

// Their names by guid. The store names a resource by its guid until an event gives its name: that is no name.
export const namesIn = (resources) => new Map([...resources.values()].filter((r) => r.name !== r.guid).map((r) => [r.guid, r.name]));
export const namesOf = async (collection, guids) => namesIn(await resourcesOf(collection, guids));
