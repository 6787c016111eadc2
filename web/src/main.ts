/**
 * Lucid's web console: sign in with a token, browse keys by prefix, open, create, edit, delete,
 * lock, count and expire values, and watch it all change live. Every call goes through the typed
 * client (src/client), so no URL is written by hand here.
 */
import './style.css';
import { createLucidClient, LucidApiError, type KeyInfo, type LucidClient, type LucidValue, type Notification } from '../../src/client/index.js';
import { byId, confirmDialog, h, notice } from './dom.js';
import { fileNameOf, formatIn, formatSize, formatTime, hexDump, isDecimal, mediaType, viewOf } from './format.js';
import { claimsOf, cleanToken, forgetToken, saveToken, savedToken, type Claims } from './session.js';

const HEX_LIMIT = 16 * 1024;
const TEXT_TYPE = 'text/plain;charset=utf-8';

// The page's fixed parts (web/index.html).
const signin = byId('signin');
const signinForm = byId<HTMLFormElement>('signin-form');
const tokenInput = byId<HTMLTextAreaElement>('token');
const signinError = byId('signin-error');
const session = byId('session');
const live = byId('live');
const identity = byId('identity');
const workspace = byId('workspace');
const filterForm = byId<HTMLFormElement>('filter');
const prefixInput = byId<HTMLInputElement>('prefix');
const pageSize = byId<HTMLSelectElement>('page-size');
const keysError = byId('keys-error');
const keyRows = byId('key-rows');
const keysEmpty = byId('keys-empty');
const keysCaption = byId('keys-caption');
const prevPage = byId<HTMLButtonElement>('prev-page');
const nextPage = byId<HTMLButtonElement>('next-page');
const pageLabel = byId('page-label');
const detailTitle = byId('detail-title');
const detailBody = byId('detail-body');
const toast = byId('toast');

// State.
let client: LucidClient | undefined;
let claims: Claims | undefined;
let events: EventSource | undefined;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;

const list = {
  prefix: '',
  limit: 50,
  /** The cursor that starts each page seen so far (page 1 has none). */
  cursors: [undefined] as (string | undefined)[],
  page: 0,
  keys: [] as KeyInfo[],
  next: undefined as string | undefined,
  seq: 0,
  refreshTimer: undefined as ReturnType<typeof setTimeout> | undefined,
};

/** The value on screen, and the editor when one is open. */
let current: { key: string; value: LucidValue; objectUrl?: string } | undefined;
let editor: { isNew: boolean; key?: string; etag?: string; mode: 'text' | 'file'; saving: boolean; dirty: boolean } | undefined;
let detailNotice: HTMLElement | undefined;
/** Writes of this console in flight: their own notifications are not news (the writer reloads the key itself). */
let busy = 0;

// ------------------------------------------------------------------------------------------------
// Messages
// ------------------------------------------------------------------------------------------------

let toastTimer: ReturnType<typeof setTimeout> | undefined;
function say(message: string): void {
  toast.textContent = message;
  toast.classList.add('shown');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toast.classList.remove('shown'), 4000);
}

function unauthorizedMessage(): string {
  const expired = claims?.exp !== undefined && claims.exp * 1000 <= Date.now();
  return expired
    ? `Your token expired at ${formatTime(new Date(claims!.exp! * 1000).toISOString())}. Sign in with a new one (lucid token issue).`
    : 'Lucid refused this token (401): it is invalid, expired, revoked or signed with another secret. Paste a fresh one (lucid token issue).';
}

/** A sentence for any failure; a 401 signs out instead (and returns undefined). */
function explain(error: unknown, action: string): string | undefined {
  if (error instanceof LucidApiError) {
    switch (error.status) {
      case 401:
        signOut(unauthorizedMessage());
        return undefined;
      case 403:
        return `Not allowed (403): ${error.message} Sign in with a token that allows it (lucid token issue --scope write, with --prefix covering the key).`;
      case 404:
        return `${action} failed: the key does not exist (any more).`;
      case 409:
        return `${action} refused (409): ${error.message}`;
      case 413:
        return `${action} refused (413): ${error.message}`;
      case 503:
        return 'Lucid’s store is unavailable right now (503). Try again in a moment.';
      default:
        return `${action} failed (${error.status}): ${error.message}`;
    }
  }
  if (error instanceof TypeError) return `${action} failed: Lucid cannot be reached. Is the server running?`;
  return `${action} failed: ${String(error)}`;
}

function isStatus(error: unknown, status: number): error is LucidApiError {
  return error instanceof LucidApiError && error.status === status;
}

/** Shows a problem (or clears it) above the value or editor. */
function showDetailNotice(message: string | undefined, tone: 'error' | 'warning' | 'info' = 'error', ...actions: HTMLElement[]): void {
  if (detailNotice === undefined) return;
  detailNotice.className = `notice ${tone}`;
  detailNotice.replaceChildren();
  if (message === undefined) {
    detailNotice.hidden = true;
    return;
  }
  detailNotice.append(h('p', {}, message));
  if (actions.length > 0) detailNotice.append(h('div', { class: 'actions' }, ...actions));
  detailNotice.hidden = false;
}

// ------------------------------------------------------------------------------------------------
// Signing in and out
// ------------------------------------------------------------------------------------------------

async function signIn(raw: string, remembered = false): Promise<void> {
  const token = cleanToken(raw);
  const candidate = createLucidClient({ baseUrl: location.origin, ...(token === '' ? {} : { token }) });
  claims = token === '' ? undefined : claimsOf(token);
  notice(signinError, undefined);
  try {
    await candidate.list({ limit: 1 });
  } catch (error) {
    if (remembered) forgetToken();
    let message: string;
    if (isStatus(error, 401)) message = token === '' ? 'Lucid needs a token: paste one above.' : unauthorizedMessage();
    else if (isStatus(error, 403)) message = `This token is not allowed to list keys (403): ${error.message}`;
    else message = explain(error, 'Signing in') ?? '';
    showSignIn(message);
    return;
  }
  client = candidate;
  saveToken(token);
  tokenInput.value = '';
  signin.hidden = true;
  workspace.hidden = false;
  session.hidden = false;
  identity.textContent = describeToken(claims);
  identity.title = claims?.exp ? `Token valid until ${new Date(claims.exp * 1000).toLocaleString()}` : '';
  list.prefix = claims?.prefix ?? '';
  prefixInput.value = list.prefix;
  resetPages();
  byId('main').focus({ preventScroll: true }); // the sign-in form is gone: focus moves on to the page
  await loadPage();
  connectLive();
  const fromHash = keyFromHash();
  if (fromHash !== undefined) await openKey(fromHash, { focus: false });
  else showNothing();
}

function describeToken(token: Claims | undefined): string {
  if (token === undefined) return 'no token';
  const parts = [token.sub ?? 'token', token.scope ?? 'write'];
  if (token.prefix) parts.push(`${token.prefix}*`);
  return parts.join(' · ');
}

function showSignIn(message?: string): void {
  workspace.hidden = true;
  session.hidden = true;
  signin.hidden = false;
  notice(signinError, message);
  tokenInput.focus();
}

function signOut(message?: string): void {
  events?.close();
  events = undefined;
  clearTimeout(reconnectTimer);
  clearTimeout(list.refreshTimer);
  client = undefined;
  claims = undefined;
  forgetToken();
  toast.classList.remove('shown');
  closeValue();
  list.keys = [];
  keyRows.replaceChildren();
  showSignIn(message);
}

// ------------------------------------------------------------------------------------------------
// The key list
// ------------------------------------------------------------------------------------------------

function resetPages(): void {
  list.cursors = [undefined];
  list.page = 0;
}

async function loadPage(): Promise<void> {
  if (client === undefined) return;
  const seq = ++list.seq;
  const query = { limit: list.limit, ...(list.prefix ? { prefix: list.prefix } : {}), ...(list.cursors[list.page] ? { cursor: list.cursors[list.page] } : {}) };
  try {
    const page = await client.list(query);
    if (seq !== list.seq) return; // a newer load is on its way
    if (page.keys.length === 0 && list.page > 0) {
      // This page emptied (keys deleted or expired meanwhile): show the one before.
      list.page--;
      await loadPage();
      return;
    }
    list.keys = page.keys;
    list.next = page.cursor;
    notice(keysError, undefined);
  } catch (error) {
    if (seq !== list.seq) return;
    const message = explain(error, 'Listing keys');
    if (message === undefined) return;
    list.keys = [];
    list.next = undefined;
    notice(keysError, message);
  }
  renderRows();
}

/** Reloads the page shown, soon: several changes in a burst cost one request. */
function scheduleRefresh(): void {
  clearTimeout(list.refreshTimer);
  list.refreshTimer = setTimeout(() => void loadPage(), 120);
}

function renderRows(): void {
  const focusedKey = (document.activeElement as HTMLElement | null)?.dataset.key;
  keyRows.replaceChildren(
    ...list.keys.map((info) =>
      h(
        'tr',
        { 'aria-current': current?.key === info.key ? 'true' : undefined, 'data-row': info.key },
        h('td', { 'data-label': 'Key', class: 'key' }, h('button', { type: 'button', class: 'link', 'data-key': info.key, onclick: () => void openKey(info.key) }, info.key)),
        h('td', { 'data-label': 'Type', class: 'type' }, mediaType(info.contentType)),
        h('td', { 'data-label': 'Size', class: 'num' }, formatSize(info.size)),
        h('td', { 'data-label': 'Updated', class: 'when' }, h('time', { datetime: info.updatedAt, title: info.updatedAt }, formatTime(info.updatedAt))),
        h('td', { 'data-label': 'Expires', class: 'when' }, info.expiresAt ? h('time', { datetime: info.expiresAt, title: info.expiresAt, 'data-relative': '' }, formatIn(info.expiresAt)) : h('span', { class: 'muted' }, 'never')),
        h(
          'td',
          { 'data-label': 'Lock', class: info.locked ? 'locked' : 'unlocked' },
          info.locked ? h('span', { class: 'badge locked', title: info.lockExpiresAt ? `lease ends ${info.lockExpiresAt}` : 'until unlocked' }, `locked${info.lockHolder ? ` by ${info.lockHolder}` : ''}`) : h('span', { class: 'muted' }, '—'),
        ),
      ),
    ),
  );
  keysEmpty.hidden = list.keys.length > 0 || !keysError.hidden;
  keysEmpty.textContent = list.prefix ? `No keys start with “${list.prefix}”.` : 'No keys yet: create one with New key.';
  keysCaption.textContent = list.prefix ? `Keys starting with ${list.prefix}` : 'Keys';
  prevPage.disabled = list.page === 0;
  nextPage.disabled = list.next === undefined;
  pageLabel.textContent = `Page ${list.page + 1} · ${list.keys.length} ${list.keys.length === 1 ? 'key' : 'keys'}`;
  if (focusedKey !== undefined) keyRows.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusedKey)}"]`)?.focus();
}

/** Relative expiry times ("in 42 s") move on without a reload. */
setInterval(() => {
  for (const time of document.querySelectorAll<HTMLTimeElement>('time[data-relative]')) time.textContent = formatIn(time.dateTime);
}, 1000);

// ------------------------------------------------------------------------------------------------
// One value
// ------------------------------------------------------------------------------------------------

function keyFromHash(): string | undefined {
  const match = /^#key=(.+)$/.exec(location.hash);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

function setHash(key: string | undefined): void {
  const hash = key === undefined ? '' : `#key=${encodeURIComponent(key)}`;
  if (location.hash !== hash) history.replaceState(null, '', hash === '' ? location.pathname : hash);
}

function closeValue(): void {
  if (current?.objectUrl) URL.revokeObjectURL(current.objectUrl);
  current = undefined;
  editor = undefined;
  setHash(undefined);
  document.title = 'Lucid console';
}

function showNothing(): void {
  closeValue();
  detailTitle.textContent = 'Value';
  detailNotice = undefined;
  detailBody.replaceChildren(h('p', { class: 'empty' }, 'Choose a key to see its value, or create a new one.'));
  renderRows();
}

async function openKey(key: string, { focus = true } = {}): Promise<void> {
  if (client === undefined) return;
  try {
    const value = await client.get(key);
    showValue(key, value);
    if (focus) {
      detailTitle.focus({ preventScroll: true });
      // One column (phones): bring the value into view; side by side it is already there.
      if (matchMedia('(max-width: 900px)').matches) byId('detail').scrollIntoView({ block: 'start' });
    }
  } catch (error) {
    if (isStatus(error, 404)) {
      showGone(key, 'missing');
      return;
    }
    const message = explain(error, `Opening “${key}”`);
    if (message !== undefined) say(message);
  }
}

function showValue(key: string, value: LucidValue, note?: string): void {
  const focused = focusedControl();
  closeValue();
  current = { key, value };
  setHash(key);
  document.title = `${key} · Lucid console`;
  detailTitle.textContent = key;
  const bytes = value.bytes();
  const view = viewOf(value.contentType, bytes);
  const blob = value.blob();
  current.objectUrl = URL.createObjectURL(blob);
  detailNotice = h('div', { class: 'notice', role: 'alert', hidden: true, id: 'detail-notice' });

  const locked = value.lockHolder !== null;
  const editable = view.kind === 'text' || view.kind === 'json';
  const actions = h(
    'div',
    { class: 'toolbar', role: 'group', 'aria-label': 'Actions on this key' },
    editable ? h('button', { type: 'button', 'data-focus': 'edit', onclick: () => showEditor({ isNew: false, mode: 'text' }) }, 'Edit') : null,
    h('button', { type: 'button', 'data-focus': 'replace', onclick: () => showEditor({ isNew: false, mode: 'file' }) }, 'Replace with file'),
    h('a', { class: 'button', 'data-focus': 'download', href: current.objectUrl, download: fileNameOf(key) }, 'Download'),
    locked
      ? h('button', { type: 'button', 'data-focus': 'lock', onclick: () => void act('Unlocking', (c) => c.unlock(key), 'Unlocked') }, 'Unlock')
      : h('button', { type: 'button', 'data-focus': 'lock', onclick: () => void act('Locking', (c) => c.lock(key), 'Locked') }, 'Lock'),
    h('button', { type: 'button', class: 'danger', 'data-focus': 'delete', onclick: () => void remove(key) }, 'Delete'),
  );

  const ttlInput = h('input', { id: 'ttl-seconds', type: 'number', min: 1, step: 1, inputmode: 'numeric', placeholder: 'e.g. 3600', required: true });
  const ttlForm = h(
    'form',
    {
      class: 'inline',
      'aria-label': 'Expiry',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const seconds = Number(ttlInput.value);
        if (!Number.isInteger(seconds) || seconds < 1) {
          showDetailNotice('Expiry: give a whole number of seconds, 1 or more.');
          ttlInput.focus();
          return;
        }
        void act('Setting the expiry', (c) => c.ttl(key, seconds), `Expires in ${seconds} s`);
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'ttl-seconds' }, 'Expire in (seconds)'), ttlInput),
    h('button', { type: 'submit', 'data-focus': 'set-ttl' }, 'Set expiry'),
    value.expiresAt ? h('button', { type: 'button', 'data-focus': 'clear-ttl', onclick: () => void act('Removing the expiry', (c) => c.ttl(key, 0), 'Never expires') }, 'Remove expiry') : null,
  );

  const text = view.kind === 'text' || view.kind === 'json' ? view.text : undefined;
  const amount = h('input', { id: 'step-amount', type: 'number', step: 'any', value: '1', inputmode: 'decimal' });
  const counter = isDecimal(text)
    ? h(
        'div',
        { class: 'inline', role: 'group', 'aria-label': 'Counter' },
        h('div', { class: 'field' }, h('label', { for: 'step-amount' }, 'Amount'), amount),
        h('button', { type: 'button', 'data-focus': 'increment', onclick: () => void act('Incrementing', (c) => c.increment(key, Number(amount.value || 1)), 'Incremented') }, 'Increment'),
        h('button', { type: 'button', 'data-focus': 'decrement', onclick: () => void act('Decrementing', (c) => c.decrement(key, Number(amount.value || 1)), 'Decremented') }, 'Decrement'),
      )
    : null;

  detailBody.replaceChildren(metadata(value, bytes.length), detailNotice, actions, h('div', { class: 'tools' }, counter, ttlForm), valueView(key, view, bytes, current.objectUrl));
  if (note) showDetailNotice(note, 'info');
  renderRows();
  restoreFocus(focused);
}

/** Which control of the value pane has focus (by data-focus or id), so a re-render can give it back. */
function focusedControl(): string | undefined {
  const element = document.activeElement as HTMLElement | null;
  if (element === null || !detailBody.contains(element)) return undefined;
  return element.dataset.focus ?? (element.id ? `#${element.id}` : undefined);
}

function restoreFocus(control: string | undefined): void {
  if (control === undefined) return;
  const element = control.startsWith('#') ? document.getElementById(control.slice(1)) : detailBody.querySelector<HTMLElement>(`[data-focus="${control}"]`);
  element?.focus();
}

function metadata(value: LucidValue, size: number): HTMLElement {
  const rows: [string, Node | string][] = [
    ['Type', value.contentType],
    ['Size', `${formatSize(size)}${size >= 1024 ? ` (${size} bytes)` : ''}`],
    ['Updated', value.lastModified ? formatTime(new Date(value.lastModified).toISOString()) : '—'],
    ['Expires', value.expiresAt ? h('span', {}, h('time', { datetime: value.expiresAt, 'data-relative': '' }, formatIn(value.expiresAt)), ` (${formatTime(value.expiresAt)})`) : 'never'],
    ['Lock', value.lockHolder !== null ? h('span', { class: 'badge locked' }, `locked by ${value.lockHolder}${value.lockExpiresAt ? `, lease ends ${formatTime(value.lockExpiresAt)}` : ''}`) : 'unlocked'],
    ['ETag', h('code', {}, value.etag)],
  ];
  return h('dl', { class: 'meta' }, ...rows.flatMap(([term, detail]) => [h('dt', {}, term), h('dd', {}, detail)]));
}

function valueView(key: string, view: ReturnType<typeof viewOf>, bytes: Uint8Array, url: string): HTMLElement {
  switch (view.kind) {
    case 'json':
      return h('figure', { class: 'value' }, h('figcaption', {}, 'JSON'), h('pre', { class: 'code', tabindex: 0, 'aria-label': `Value of ${key}, JSON` }, view.pretty));
    case 'text':
      return h('figure', { class: 'value' }, h('figcaption', {}, 'Text'), h('pre', { class: 'code wrap', tabindex: 0, 'aria-label': `Value of ${key}, text` }, view.text));
    case 'image':
      return h('figure', { class: 'value' }, h('figcaption', {}, 'Image'), h('img', { class: 'image', src: url, alt: `The image stored under ${key}` }));
    case 'binary': {
      const shown = Math.min(bytes.length, HEX_LIMIT);
      return h(
        'figure',
        { class: 'value' },
        h('figcaption', {}, shown < bytes.length ? `Binary: the first ${formatSize(shown)} of ${formatSize(bytes.length)} (download it for the rest)` : 'Binary (hex)'),
        h('pre', { class: 'code hex', tabindex: 0, 'aria-label': `Value of ${key}, hexadecimal dump` }, hexDump(bytes, HEX_LIMIT)),
        h('a', { class: 'button', href: url, download: fileNameOf(key) }, `Download ${formatSize(bytes.length)}`),
      );
    }
  }
}

/** The key is not there: deleted or expired while open, or never written. */
function showGone(key: string, why: 'deleted' | 'expired' | 'missing'): void {
  closeValue();
  detailTitle.textContent = key;
  detailNotice = undefined;
  const text = why === 'missing' ? `There is no key “${key}” (it may have expired or been deleted).` : `“${key}” was ${why} ${why === 'expired' ? '(its expiry passed)' : 'by another client'}.`;
  detailBody.replaceChildren(h('p', { class: `notice ${why === 'missing' ? 'error' : 'info'}`, role: 'alert' }, text), h('button', { type: 'button', onclick: () => showNothing() }, 'Close'));
  renderRows();
}

/** Runs one change on the open key, then shows the key as it now is. */
async function act(what: string, run: (c: LucidClient) => Promise<unknown>, done: string): Promise<void> {
  if (client === undefined || current === undefined) return;
  const key = current.key;
  busy++;
  try {
    await run(client);
    say(`${done}: “${key}”.`);
    await openKey(key, { focus: false });
  } catch (error) {
    let message = explain(error, what);
    if (message === undefined) return;
    if (isStatus(error, 409) && current?.value.lockHolder) message = `${message} The key is locked by ${current.value.lockHolder}.`;
    if (isStatus(error, 400) && /number/.test(error.message)) message = `${what} needs a stored plain decimal number: ${error.message}`;
    showDetailNotice(message);
  } finally {
    busy--;
  }
}

async function remove(key: string): Promise<void> {
  if (client === undefined || current === undefined) return;
  const sure = await confirmDialog(`Delete “${key}”?`, 'The value is removed for every client. This cannot be undone.', 'Delete');
  if (!sure || client === undefined) return;
  busy++;
  try {
    await client.delete(key, { ifMatch: current.value.etag });
    say(`Deleted “${key}”.`);
    showNothing();
    scheduleRefresh();
  } catch (error) {
    if (isStatus(error, 412)) {
      showDetailNotice(`“${key}” changed since you opened it, so it was not deleted (412). Look at the latest version first.`, 'warning', reloadButton(key));
      return;
    }
    const message = explain(error, 'Deleting');
    if (message !== undefined) showDetailNotice(message);
  } finally {
    busy--;
  }
}

function reloadButton(key: string, label = 'Reload the latest version'): HTMLButtonElement {
  return h('button', { type: 'button', class: 'primary', onclick: () => void openKey(key) }, label);
}

// ------------------------------------------------------------------------------------------------
// Creating and editing
// ------------------------------------------------------------------------------------------------

function showEditor({ isNew, mode }: { isNew: boolean; mode: 'text' | 'file' }): void {
  const existing = isNew ? undefined : current;
  if (isNew) closeValue();
  editor = { isNew, key: existing?.key, etag: existing?.value.etag, mode, saving: false, dirty: false };
  detailTitle.textContent = isNew ? 'New key' : `Edit ${existing!.key}`;
  detailNotice = h('div', { class: 'notice', role: 'alert', hidden: true, id: 'detail-notice' });

  const keyField = isNew
    ? h('div', { class: 'field' }, h('label', { for: 'edit-key' }, 'Key'), h('input', { id: 'edit-key', name: 'key', required: true, maxlength: 512, autocomplete: 'off', spellcheck: 'false', value: list.prefix }))
    : null;

  const original = existing ? viewOf(existing.value.contentType, existing.value.bytes()) : undefined;
  const originalText = original && (original.kind === 'text' || original.kind === 'json') ? original.text : '';
  const typeInput = h('input', { id: 'edit-type', name: 'contentType', autocomplete: 'off', spellcheck: 'false', list: 'content-types', value: existing?.value.contentType ?? (mode === 'text' ? TEXT_TYPE : '') });
  const textArea = h('textarea', { id: 'edit-text', name: 'value', rows: 14, spellcheck: 'false', value: originalText });
  const fileInput = h('input', { id: 'edit-file', name: 'file', type: 'file' });
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) typeInput.value = file.type || 'application/octet-stream';
  });

  const textFields = h('div', { class: 'field' }, h('label', { for: 'edit-text' }, 'Value'), textArea);
  const fileFields = h('div', { class: 'field' }, h('label', { for: 'edit-file' }, 'File'), fileInput, h('p', { class: 'hint' }, 'Its bytes are stored as they are; any size up to the server’s limit.'));
  const showMode = (next: 'text' | 'file') => {
    editor!.mode = next;
    textFields.hidden = next !== 'text';
    fileFields.hidden = next !== 'file';
  };
  const modeChoice = isNew
    ? h(
        'fieldset',
        { class: 'choice' },
        h('legend', {}, 'Value from'),
        ...(['text', 'file'] as const).map((choice) =>
          h(
            'label',
            {},
            h('input', { type: 'radio', name: 'mode', value: choice, checked: choice === mode, onchange: () => showMode(choice) }),
            choice === 'text' ? ' Text editor' : ' File upload',
          ),
        ),
      )
    : null;
  const ttlField = isNew
    ? h('div', { class: 'field' }, h('label', { for: 'edit-ttl' }, 'Expire in (seconds, optional)'), h('input', { id: 'edit-ttl', name: 'ttl', type: 'number', min: 1, step: 1, inputmode: 'numeric' }))
    : null;

  const saveButton = h('button', { type: 'submit', class: 'primary', 'aria-keyshortcuts': 'Control+Enter' }, isNew ? 'Create' : 'Save');
  const form = h(
    'form',
    { class: 'editor', id: 'editor', novalidate: true, 'aria-label': isNew ? 'New key' : `Edit ${existing!.key}` },
    keyField,
    modeChoice,
    h('div', { class: 'field' }, h('label', { for: 'edit-type' }, 'Content type'), typeInput),
    h(
      'datalist',
      { id: 'content-types' },
      ...['text/plain;charset=utf-8', 'application/json', 'text/markdown', 'text/html', 'text/csv', 'application/xml', 'image/png', 'application/octet-stream'].map((type) => h('option', { value: type })),
    ),
    textFields,
    fileFields,
    ttlField,
    detailNotice,
    h('div', { class: 'actions' }, saveButton, h('button', { type: 'button', class: 'quiet', onclick: () => void cancelEdit() }, 'Cancel')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void save(form);
  });
  const touched = () => {
    if (editor) editor.dirty = true;
  };
  form.addEventListener('input', touched);
  form.addEventListener('change', touched);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void save(form);
    }
  });
  showMode(mode);
  detailBody.replaceChildren(form);
  renderRows();
  (isNew ? form.querySelector<HTMLElement>('#edit-key') : mode === 'text' ? textArea : fileInput)?.focus();
}

/** Leaves the editor; an edit in progress is only thrown away after a confirmation. */
async function cancelEdit(): Promise<void> {
  if (editor === undefined) return;
  if (editor.dirty && !(await confirmDialog('Discard your changes?', 'What you typed or chose here has not been saved.', 'Discard'))) return;
  const key = editor?.key;
  editor = undefined;
  if (key !== undefined && current !== undefined) showValue(key, current.value);
  else showNothing();
}

async function save(form: HTMLFormElement, overwriteEtag?: string): Promise<void> {
  if (client === undefined || editor === undefined || editor.saving) return;
  const field = <T extends HTMLElement>(name: string) => form.querySelector<T>(`[name="${name}"]`);
  const key = editor.isNew ? (field<HTMLInputElement>('key')?.value ?? '') : editor.key!;
  const contentType = field<HTMLInputElement>('contentType')?.value.trim() ?? '';
  const ttlText = field<HTMLInputElement>('ttl')?.value ?? '';
  let body: string | Blob;
  if (key === '') return showDetailNotice('Give the key a name.');
  if (editor.mode === 'file') {
    const file = field<HTMLInputElement>('file')?.files?.[0];
    if (file === undefined) return showDetailNotice('Choose a file to upload.');
    body = file;
  } else {
    body = field<HTMLTextAreaElement>('value')?.value ?? '';
  }
  if ((typeof body === 'string' ? body.length : body.size) === 0) return showDetailNotice('Lucid does not store empty values: write something, or delete the key instead.');
  const ttl = ttlText === '' ? undefined : Number(ttlText);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1)) return showDetailNotice('Expiry: give a whole number of seconds, 1 or more.');

  editor.saving = true;
  showDetailNotice('Saving…', 'info');
  busy++;
  try {
    const result = await client.put(key, body, {
      contentType: contentType || (typeof body === 'string' ? TEXT_TYPE : body.type || 'application/octet-stream'),
      ...(editor.isNew ? { ifNoneMatch: '*' } : { ifMatch: overwriteEtag ?? editor.etag }),
      ...(ttl === undefined ? {} : { ttl }),
    });
    editor = undefined;
    say(`${result.created ? 'Created' : 'Saved'} “${key}”.`);
    void loadPage();
    await openKey(key);
  } catch (error) {
    if (editor === undefined) return;
    editor.saving = false;
    if (isStatus(error, 412) && editor.isNew) {
      showDetailNotice(`A key named “${key}” already exists, so nothing was written (412). Open it to edit it, or pick another name.`, 'warning', reloadButton(key, `Open “${key}”`));
    } else if (isStatus(error, 412)) {
      const theirs = error.etag;
      showDetailNotice(
        `Conflict: “${key}” was changed by someone else after you opened it, so your edit was not saved (412) and nothing was overwritten. Your text is still here.`,
        'warning',
        reloadButton(key, 'Reload their version (discard mine)'),
        ...(theirs ? [h('button', { type: 'button', onclick: () => void save(form, theirs) }, 'Save mine over theirs')] : []),
      );
    } else if (isStatus(error, 409)) {
      const holder = current?.value.lockHolder;
      showDetailNotice(`Refused (409): ${error.message} “${key}” is locked${holder ? ` by ${holder}` : ''}; unlock it before saving. Your text is still here.`);
    } else {
      const message = explain(error, 'Saving');
      if (message !== undefined) showDetailNotice(message);
    }
  } finally {
    busy--;
  }
}

// ------------------------------------------------------------------------------------------------
// Live changes
// ------------------------------------------------------------------------------------------------

function setLive(state: 'connecting' | 'live' | 'offline', text: string): void {
  live.dataset.state = state;
  live.textContent = text;
}

function connectLive(): void {
  if (client === undefined) return;
  events?.close();
  clearTimeout(reconnectTimer);
  setLive('connecting', 'Connecting…');
  const source = new EventSource(client.notificationsUrl());
  events = source;
  source.addEventListener('open', () => setLive('live', 'Live'));
  source.addEventListener('message', (event: MessageEvent<string>) => {
    try {
      onChange(JSON.parse(event.data) as Notification);
    } catch {
      // Not a change event: ignore it.
    }
  });
  source.addEventListener('reset', () => {
    scheduleRefresh();
    if (current !== undefined && editor === undefined) void openKey(current.key, { focus: false });
  });
  source.addEventListener('error', () => {
    if (source !== events) return;
    if (source.readyState === EventSource.CONNECTING) {
      setLive('connecting', 'Reconnecting…');
      return;
    }
    // Closed for good: a refused token (401/403) or the server is gone. Find out which.
    setLive('offline', 'Offline');
    void client
      ?.list({ limit: 1 })
      .then(() => {
        reconnectTimer = setTimeout(connectLive, 3000);
      })
      .catch((error: unknown) => {
        if (isStatus(error, 401)) signOut(unauthorizedMessage());
        else reconnectTimer = setTimeout(connectLive, 5000);
      });
  });
}

function onChange(change: Notification): void {
  if (change.key.startsWith(list.prefix)) scheduleRefresh();
  const openKeyName = editor?.key ?? current?.key;
  if (openKeyName !== change.key || busy > 0) return;
  if (change.type === 'deleted' || change.type === 'expired') {
    if (editor !== undefined) {
      showDetailNotice(`“${change.key}” was ${change.type} meanwhile. Saving will be refused unless you create it anew.`, 'warning');
      return;
    }
    showGone(change.key, change.type);
    return;
  }
  if (current !== undefined && change.etag === current.value.etag) return; // what is shown is already this version
  if (editor !== undefined) {
    showDetailNotice(`“${change.key}” was just changed by another client (${change.type}). Saving your edit will be refused; reload to see their version.`, 'warning', reloadButton(change.key, 'Reload their version (discard mine)'));
    return;
  }
  void refreshOpen(change);
}

/** Shows the new version of the open value, keeping focus where it was. */
async function refreshOpen(change: Notification): Promise<void> {
  if (client === undefined || current === undefined) return;
  const key = current.key;
  try {
    const value = await client.get(key);
    if (current?.key !== key || editor !== undefined || value.etag === current.value.etag) return;
    showValue(key, value, `Updated live: ${change.type} at ${formatTime(change.time)}.`);
  } catch (error) {
    if (isStatus(error, 404)) showGone(key, 'deleted');
  }
}

// ------------------------------------------------------------------------------------------------
// Wiring
// ------------------------------------------------------------------------------------------------

signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn(tokenInput.value);
});
tokenInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    signinForm.requestSubmit();
  }
});
byId('sign-out').addEventListener('click', () => signOut('Signed out. The token was removed from this tab.'));
filterForm.addEventListener('submit', (event) => {
  event.preventDefault();
  list.prefix = prefixInput.value;
  list.limit = Number(pageSize.value);
  resetPages();
  void loadPage();
});
pageSize.addEventListener('change', () => filterForm.requestSubmit());
prevPage.addEventListener('click', () => {
  if (list.page === 0) return;
  list.page--;
  void loadPage();
});
nextPage.addEventListener('click', () => {
  if (list.next === undefined) return;
  list.cursors[list.page + 1] = list.next;
  list.page++;
  void loadPage();
});
byId('new-key').addEventListener('click', () => showEditor({ isNew: true, mode: 'text' }));
window.addEventListener('hashchange', () => {
  const key = keyFromHash();
  if (key !== undefined && key !== current?.key && client !== undefined) void openKey(key);
});
document.addEventListener('keydown', (event) => {
  if (client === undefined || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target as HTMLElement;
  const typing = target.closest('input, textarea, select, [contenteditable]') !== null || document.querySelector('dialog[open]') !== null;
  if (event.key === 'Escape' && editor !== undefined && document.querySelector('dialog[open]') === null) {
    event.preventDefault();
    void cancelEdit();
  } else if (!typing && event.key === '/') {
    event.preventDefault();
    prefixInput.focus();
    prefixInput.select();
  } else if (!typing && event.key === 'n') {
    event.preventDefault();
    showEditor({ isNew: true, mode: 'text' });
  }
});

window.addEventListener('beforeunload', (event) => {
  if (editor?.dirty) event.preventDefault(); // the browser asks before an unsaved edit is lost
});

const remembered = savedToken();
if (remembered !== undefined) void signIn(remembered, true);
else showSignIn();
