/** The value screen: one key opened, shown as it is, with its actions; or a note that it is gone. */
import type { LucidValue } from '../../src/client/index.js';
import type { App, GoneReason } from './app.js';
import { h } from './dom.js';
import { viewOf } from './format.js';
import { setHash } from './hash.js';
import { explain, isStatus, newDetailNotice, say, showDetailNotice } from './messages.js';
import { counterTools, expiryForm, valueActions } from './value-actions.js';
import { metadata, valueView } from './value-view.js';

/** Lets go of the value and editor shown (and the object URL of its bytes). */
export function closeValue({ state }: App): void {
  if (state.current?.objectUrl) URL.revokeObjectURL(state.current.objectUrl);
  state.current = undefined;
  state.editor = undefined;
  setHash(undefined);
  document.title = 'Lucid console';
}

export function showNothing(app: App): void {
  const { state, ui } = app;
  closeValue(app);
  ui.detailTitle.textContent = 'Value';
  state.detailNotice = undefined;
  ui.detailBody.replaceChildren(h('p', { class: 'empty' }, 'Choose a key to see its value, or create a new one.'));
  app.screens.renderRows();
}

export async function openKey(app: App, key: string, { focus = true } = {}): Promise<void> {
  const { state, ui } = app;
  if (state.client === undefined) return;
  try {
    const value = await state.client.get(key);
    showValue(app, key, value);
    if (focus) {
      ui.detailTitle.focus({ preventScroll: true });
      // One column (phones): bring the value into view; side by side it is already there.
      if (matchMedia('(max-width: 900px)').matches) ui.detail.scrollIntoView({ block: 'start' });
    }
  } catch (error) {
    if (isStatus(error, 404)) {
      showGone(app, key, 'missing');
      return;
    }
    const message = explain(app, error, `Opening “${key}”`);
    if (message !== undefined) say(app, message);
  }
}

/** Shows `value` under `key` (with an optional note), keeping focus on the control that had it. */
export function showValue(app: App, key: string, value: LucidValue, note?: string): void {
  const { state, ui } = app;
  const focused = focusedControl(app);
  closeValue(app);
  const bytes = value.bytes();
  const view = viewOf(value.contentType, bytes);
  const objectUrl = URL.createObjectURL(value.blob());
  state.current = { key, value, objectUrl };
  setHash(key);
  document.title = `${key} · Lucid console`;
  ui.detailTitle.textContent = key;
  const text = view.kind === 'text' || view.kind === 'json' ? view.text : undefined;
  ui.detailBody.replaceChildren(
    metadata(value, bytes.length),
    newDetailNotice(state),
    valueActions(app, key, value, view, objectUrl),
    h('div', { class: 'tools' }, counterTools(app, key, text), expiryForm(app, key, value)),
    valueView(key, view, bytes, objectUrl),
  );
  if (note) showDetailNotice(app, note, 'info');
  app.screens.renderRows();
  restoreFocus(app, focused);
}

/** Which control of the value pane has focus (by data-focus or id), so a re-render can give it back. */
function focusedControl({ ui }: App): string | undefined {
  const element = document.activeElement as HTMLElement | null;
  if (element === null || !ui.detailBody.contains(element)) return undefined;
  return element.dataset.focus ?? (element.id ? `#${element.id}` : undefined);
}

function restoreFocus({ ui }: App, control: string | undefined): void {
  if (control === undefined) return;
  const element = control.startsWith('#')
    ? document.getElementById(control.slice(1))
    : ui.detailBody.querySelector<HTMLElement>(`[data-focus="${control}"]`);
  element?.focus();
}

/** The key is not there: deleted or expired while open, or never written. */
export function showGone(app: App, key: string, why: GoneReason): void {
  const { state, ui } = app;
  closeValue(app);
  ui.detailTitle.textContent = key;
  state.detailNotice = undefined;
  const text =
    why === 'missing'
      ? `There is no key “${key}” (it may have expired or been deleted).`
      : `“${key}” was ${why} ${why === 'expired' ? '(its expiry passed)' : 'by another client'}.`;
  ui.detailBody.replaceChildren(
    h('p', { class: `notice ${why === 'missing' ? 'error' : 'info'}`, role: 'alert' }, text),
    h('button', { type: 'button', onclick: () => showNothing(app) }, 'Close'),
  );
  app.screens.renderRows();
}
