/** The key list: one page of keys under a prefix, paged by the listing cursor, kept fresh by the live view. */
import type { KeyInfo } from '../../src/client/index.js';
import { resetPages, type App } from './app.js';
import { h, notice } from './dom.js';
import { formatIn, formatSize, formatTime, mediaType } from './format.js';
import { explain } from './messages.js';

/** Loads the page the list state points at, and shows it (only the newest of overlapping loads renders). */
export async function loadPage(app: App): Promise<void> {
  const { state, ui } = app;
  const { client, list } = state;
  if (client === undefined) return;
  const seq = ++list.seq;
  const cursor = list.cursors[list.page];
  const query = { limit: list.limit, ...(list.prefix ? { prefix: list.prefix } : {}), ...(cursor ? { cursor } : {}) };
  try {
    const page = await client.list(query);
    if (seq !== list.seq) return; // a newer load is on its way
    if (page.keys.length === 0 && list.page > 0) {
      // This page emptied (keys deleted or expired meanwhile): show the one before.
      list.page--;
      await loadPage(app);
      return;
    }
    list.keys = page.keys;
    list.next = page.cursor;
    notice(ui.keysError, undefined);
  } catch (error) {
    if (seq !== list.seq) return;
    const message = explain(app, error, 'Listing keys');
    if (message === undefined) return;
    list.keys = [];
    list.next = undefined;
    notice(ui.keysError, message);
  }
  renderRows(app);
}

/** Reloads the page shown, soon: several changes in a burst cost one request. */
export function scheduleRefresh(app: App): void {
  const { list } = app.state;
  clearTimeout(list.refreshTimer);
  list.refreshTimer = setTimeout(() => void loadPage(app), 120);
}

/** Shows the keys loaded, marking the open one and keeping focus on the key button that had it. */
export function renderRows(app: App): void {
  const { state, ui } = app;
  const { list } = state;
  const focusedKey = (document.activeElement as HTMLElement | null)?.dataset.key;
  ui.keyRows.replaceChildren(...list.keys.map((info) => keyRow(app, info)));
  ui.keysEmpty.hidden = list.keys.length > 0 || !ui.keysError.hidden;
  ui.keysEmpty.textContent = list.prefix
    ? `No keys start with “${list.prefix}”.`
    : 'No keys yet: create one with New key.';
  ui.keysCaption.textContent = list.prefix ? `Keys starting with ${list.prefix}` : 'Keys';
  ui.prevPage.disabled = list.page === 0;
  ui.nextPage.disabled = list.next === undefined;
  const count = list.keys.length;
  ui.pageLabel.textContent = `Page ${list.page + 1} · ${count} ${count === 1 ? 'key' : 'keys'}`;
  if (focusedKey !== undefined)
    ui.keyRows.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusedKey)}"]`)?.focus();
}

function keyRow(app: App, info: KeyInfo): HTMLTableRowElement {
  const open = () => void app.screens.openKey(info.key);
  return h(
    'tr',
    { 'aria-current': app.state.current?.key === info.key ? 'true' : undefined, 'data-row': info.key },
    h(
      'td',
      { 'data-label': 'Key', class: 'key' },
      h('button', { type: 'button', class: 'link', 'data-key': info.key, onclick: open }, info.key),
    ),
    h('td', { 'data-label': 'Type', class: 'type' }, mediaType(info.contentType)),
    h('td', { 'data-label': 'Size', class: 'num' }, formatSize(info.size)),
    h(
      'td',
      { 'data-label': 'Updated', class: 'when' },
      h('time', { datetime: info.updatedAt, title: info.updatedAt }, formatTime(info.updatedAt)),
    ),
    h('td', { 'data-label': 'Expires', class: 'when' }, expiryCell(info)),
    h('td', { 'data-label': 'Lock', class: info.locked ? 'locked' : 'unlocked' }, lockCell(info)),
  );
}

function expiryCell(info: KeyInfo): HTMLElement {
  if (!info.expiresAt) return h('span', { class: 'muted' }, 'never');
  return h('time', { datetime: info.expiresAt, title: info.expiresAt, 'data-relative': '' }, formatIn(info.expiresAt));
}

function lockCell(info: KeyInfo): HTMLElement {
  if (!info.locked) return h('span', { class: 'muted' }, '—');
  const title = info.lockExpiresAt ? `lease ends ${info.lockExpiresAt}` : 'until unlocked';
  return h('span', { class: 'badge locked', title }, `locked${info.lockHolder ? ` by ${info.lockHolder}` : ''}`);
}

/** Relative expiry times ("in 42 s") move on without a reload; main.ts runs this every second. */
export function tickRelativeTimes(): void {
  for (const time of document.querySelectorAll<HTMLTimeElement>('time[data-relative]')) {
    time.textContent = formatIn(time.dateTime);
  }
}

/** The prefix filter, page size, the pager and the New key button. */
export function wireKeyList(app: App): void {
  const { state, ui } = app;
  const { list } = state;
  ui.filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    list.prefix = ui.prefixInput.value;
    list.limit = Number(ui.pageSize.value);
    resetPages(list);
    void loadPage(app);
  });
  ui.pageSize.addEventListener('change', () => ui.filterForm.requestSubmit());
  ui.prevPage.addEventListener('click', () => {
    if (list.page === 0) return;
    list.page--;
    void loadPage(app);
  });
  ui.nextPage.addEventListener('click', () => {
    if (list.next === undefined) return;
    list.cursors[list.page + 1] = list.next;
    list.page++;
    void loadPage(app);
  });
  ui.newKey.addEventListener('click', () => app.screens.showEditor({ isNew: true, mode: 'text' }));
}
