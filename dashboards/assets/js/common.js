// Shared by every dashboard page: the signed-in key (sessionStorage only), calls to the JSON API, which routes exist
// and which this key may call (from the OpenAPI document and GET /api/v1/session), and small rendering helpers.
// Nothing here holds data of its own: every figure on a page comes from the API at the moment it is shown.

const KEY_STORAGE = 'fieldwatch.apiKey';
const API = '/api/v1';
const OPENAPI = '/api/docs/openapi.json';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function signOut(reason) {
  sessionStorage.removeItem(KEY_STORAGE);
  const next = location.pathname.split('/').pop() || 'fleet.html';
  const query = new URLSearchParams({ next });
  if (reason) query.set('reason', reason);
  location.replace(`./index.html?${query.toString()}`);
}

function queryString(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** A call to the JSON API with the signed-in key; a 401 (key revoked or mistyped) ends the session. */
export async function apiFetch(path, params, { key = storedKey(), accept = 'application/json' } = {}) {
  const response = await fetch(`${API}${path}${queryString(params)}`, {
    headers: { Authorization: `Bearer ${key}`, Accept: accept },
    cache: 'no-store',
  });
  if (response.status === 401 && key === storedKey()) {
    signOut('expired');
    throw new ApiError(401, 'Your key was not accepted; please sign in again.');
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body && body.message)
        message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(response.status, message);
  }
  return response;
}

export async function api(path, params) {
  return (await apiFetch(path, params)).json();
}

/** Every page of a paged list (`{ items, nextCursor }`), up to `max` items. */
export async function apiAll(path, params = {}, max = 5000) {
  const items = [];
  let cursor;
  do {
    const page = await api(path, { ...params, limit: 500, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

/**
 * Which routes this deployment serves and which permission each needs (`x-fw-permission` in the OpenAPI document),
 * so a page says "not available" for a route not built yet, or "not for your role", instead of calling it.
 */
class Capabilities {
  constructor(session, document) {
    this.session = session;
    this.operations = new Map();
    for (const [path, item] of Object.entries(document.paths ?? {})) {
      for (const [method, operation] of Object.entries(item)) {
        this.operations.set(`${method.toUpperCase()} ${path}`, operation['x-fw-permission'] ?? null);
      }
    }
  }

  /** `{ ok: true }` or `{ ok: false, reason }` for e.g. `GET /api/v1/drift/alerts`. */
  check(operation) {
    if (!this.operations.has(operation)) {
      return {
        ok: false,
        kind: 'unavailable',
        reason: `Not available: this deployment has no ${operation} yet.`,
      };
    }
    const permission = this.operations.get(operation);
    if (permission && !this.session.permissions.includes(permission)) {
      return {
        ok: false,
        kind: 'forbidden',
        reason: `Not available to your role (${this.session.role}): ${operation} needs the ${permission} permission.`,
      };
    }
    return { ok: true };
  }
}

/**
 * Every page but the sign-in starts here: no key → the sign-in (nothing of the page is shown); a key the API
 * refuses → the sign-in again. Resolves with the session and the route capabilities once the page may show.
 */
export async function startPage() {
  if (!storedKey()) {
    signOut();
    return new Promise(() => {});
  }
  let session;
  let openapi;
  try {
    [session, openapi] = await Promise.all([
      api('/session'),
      fetch(OPENAPI, { cache: 'no-store' }).then((response) => {
        if (!response.ok) throw new Error(`the OpenAPI document answered ${response.status}`);
        return response.json();
      }),
    ]);
  } catch (error) {
    // A refused key has already gone back to the sign-in; anything else is said where the page would be.
    const pending = byId('auth-pending');
    if (pending) {
      pending.className = 'notice error';
      pending.setAttribute('role', 'alert');
      pending.textContent = `The dashboards cannot start: ${errorText(error)}`;
    }
    return new Promise(() => {});
  }
  const who = byId('who-role');
  if (who)
    who.textContent = session.manufacturerId ? `Role: ${session.role}` : `Role: ${session.role} (platform)`;
  byId('sign-out')?.addEventListener('click', () => signOut('signed-out'));
  byId('auth-pending')?.setAttribute('hidden', '');
  byId('site-header')?.removeAttribute('hidden');
  byId('main').removeAttribute('hidden');
  return { session, capabilities: new Capabilities(session, openapi) };
}

// ── rendering helpers ──────────────────────────────────────────────────────────────────────────────

export function byId(id) {
  return document.getElementById(id);
}

/** Creates an element with text (never HTML: API strings are not trusted as markup). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'text') node.textContent = value;
    else if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** A panel's "not available" / "not for your role" / error state, as text (role=status for screen readers). */
export function notice(container, kind, text) {
  const node = el('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', text });
  clear(container).append(node);
  return node;
}

export function errorText(error) {
  if (error instanceof ApiError) return `The API answered ${error.status}: ${error.message}`;
  return `Could not load: ${error instanceof Error ? error.message : String(error)}`;
}

/** A table with a caption; `columns` are `{ label, value(row), numeric?, className?(row) }`. */
export function table(caption, columns, rows, { rowClass } = {}) {
  const head = el(
    'thead',
    {},
    el(
      'tr',
      {},
      columns.map((c) => el('th', { scope: 'col', class: c.numeric ? 'num' : null, text: c.label })),
    ),
  );
  const body = el(
    'tbody',
    {},
    rows.map((row) =>
      el(
        'tr',
        { class: rowClass ? rowClass(row) : null },
        columns.map((c, index) => {
          const value = c.value(row);
          const attributes = { class: c.numeric ? 'num' : null };
          const cell =
            index === 0 && c.header ? el('th', { ...attributes, scope: 'row' }) : el('td', attributes);
          if (value instanceof Node) cell.append(value);
          else cell.textContent = value === null || value === undefined ? '—' : String(value);
          return cell;
        }),
      ),
    ),
  );
  return el('div', { class: 'table-scroll' }, el('table', {}, el('caption', { text: caption }), head, body));
}

export const fmt = {
  int(value) {
    return value === null || value === undefined ? '—' : Number(value).toLocaleString('en-GB');
  },
  num(value, digits = 3) {
    return value === null || value === undefined || Number.isNaN(value) ? '—' : Number(value).toFixed(digits);
  },
  pct(value, digits = 1) {
    return value === null || value === undefined || Number.isNaN(value)
      ? '—'
      : `${(value * 100).toFixed(digits)}%`;
  },
  interval(ci, digits = 3) {
    return ci ? `${fmt.num(ci[0], digits)}–${fmt.num(ci[1], digits)}` : '—';
  },
  date(value) {
    return value ? String(value).slice(0, 10) : '—';
  },
  dateTime(value) {
    return value ? new Date(value).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—';
  },
};

/** "0.812 (95% CI 0.781–0.840; n = 412)" or the API's own "insufficient data (n = 12)". */
export function figureText(figure, ciName = 'cluster') {
  if (!figure) return '—';
  if (figure.estimate === null) return `insufficient data (n = ${fmt.int(figure.n)})`;
  const ci =
    figure.ci95?.[ciName] ?? figure.ci95?.wilson ?? figure.ci95?.delong ?? figure.ci95?.deltaLogit ?? null;
  const n = figure.n !== undefined ? `; n = ${fmt.int(figure.n)}` : '';
  return `${fmt.num(figure.estimate)} (95% CI ${fmt.interval(ci)}${n})`;
}

/** Fills a <select> with `[value, label]` pairs, keeping the current choice when it is still offered. */
export function fillSelect(select, options, { keep = true } = {}) {
  const previous = select.value;
  clear(select);
  for (const [value, label] of options) select.append(el('option', { value, text: label }));
  if (keep && options.some(([value]) => value === previous)) select.value = previous;
}

/** The first UTC day of each month from `from` (inclusive) to `to` (exclusive), as ISO dates. */
export function monthStarts(from, to) {
  const months = [];
  const cursor = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1));
  while (cursor < to) {
    months.push(cursor.toISOString().slice(0, 10));
    cursor.setUTCMonth(cursor.getUTCMonth() + 1);
  }
  return months;
}

export function addMonths(isoDate, months) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() + months);
  return date.toISOString().slice(0, 10);
}
