/** What can be done to the open value: edit, replace, download, lock, delete, expire, count. */
import type { LucidClient, LucidValue } from '../../src/client/index.js';
import type { App } from './app.js';
import { confirmDialog, h, type Attributes } from './dom.js';
import { fileNameOf, isDecimal, type ValueView } from './format.js';
import { explain, isStatus, reloadButton, say, showDetailNotice } from './messages.js';

/** The toolbar above the value. */
export function valueActions(app: App, key: string, value: LucidValue, view: ValueView, url: string): HTMLElement {
  const { showEditor } = app.screens;
  const editable = view.kind === 'text' || view.kind === 'json';
  const button = (focus: string, label: string, onclick: () => void, attributes: Attributes = {}) =>
    h('button', { type: 'button', ...attributes, 'data-focus': focus, onclick }, label);
  const lock =
    value.lockHolder !== null
      ? button('lock', 'Unlock', () => void act(app, 'Unlocking', (c) => c.unlock(key), 'Unlocked'))
      : button('lock', 'Lock', () => void act(app, 'Locking', (c) => c.lock(key), 'Locked'));
  return h(
    'div',
    { class: 'toolbar', role: 'group', 'aria-label': 'Actions on this key' },
    editable ? button('edit', 'Edit', () => showEditor({ isNew: false, mode: 'text' })) : null,
    button('replace', 'Replace with file', () => showEditor({ isNew: false, mode: 'file' })),
    h('a', { class: 'button', 'data-focus': 'download', href: url, download: fileNameOf(key) }, 'Download'),
    lock,
    button('delete', 'Delete', () => void remove(app, key), { class: 'danger' }),
  );
}

/** Sets or removes the value's expiry. */
export function expiryForm(app: App, key: string, value: LucidValue): HTMLFormElement {
  const ttlInput = h('input', {
    id: 'ttl-seconds',
    type: 'number',
    min: 1,
    step: 1,
    inputmode: 'numeric',
    placeholder: 'e.g. 3600',
    required: true,
  });
  const submit = (event: Event) => {
    event.preventDefault();
    const seconds = Number(ttlInput.value);
    if (!Number.isInteger(seconds) || seconds < 1) {
      showDetailNotice(app, 'Expiry: give a whole number of seconds, 1 or more.');
      ttlInput.focus();
      return;
    }
    void act(app, 'Setting the expiry', (c) => c.ttl(key, seconds), `Expires in ${seconds} s`);
  };
  const clear = () => void act(app, 'Removing the expiry', (c) => c.ttl(key, 0), 'Never expires');
  return h(
    'form',
    { class: 'inline', 'aria-label': 'Expiry', onsubmit: submit },
    h('div', { class: 'field' }, h('label', { for: 'ttl-seconds' }, 'Expire in (seconds)'), ttlInput),
    h('button', { type: 'submit', 'data-focus': 'set-ttl' }, 'Set expiry'),
    value.expiresAt
      ? h('button', { type: 'button', 'data-focus': 'clear-ttl', onclick: clear }, 'Remove expiry')
      : null,
  );
}

/** Increment and decrement, offered when the value (`text`) is a plain decimal number. */
export function counterTools(app: App, key: string, text: string | undefined): HTMLElement | null {
  if (!isDecimal(text)) return null;
  const amount = h('input', { id: 'step-amount', type: 'number', step: 'any', value: '1', inputmode: 'decimal' });
  const step = () => Number(amount.value || 1);
  const increment = () => void act(app, 'Incrementing', (c) => c.increment(key, step()), 'Incremented');
  const decrement = () => void act(app, 'Decrementing', (c) => c.decrement(key, step()), 'Decremented');
  return h(
    'div',
    { class: 'inline', role: 'group', 'aria-label': 'Counter' },
    h('div', { class: 'field' }, h('label', { for: 'step-amount' }, 'Amount'), amount),
    h('button', { type: 'button', 'data-focus': 'increment', onclick: increment }, 'Increment'),
    h('button', { type: 'button', 'data-focus': 'decrement', onclick: decrement }, 'Decrement'),
  );
}

/** Runs one change on the open key, then shows the key as it now is. */
async function act(app: App, what: string, run: (c: LucidClient) => Promise<unknown>, done: string): Promise<void> {
  const { state } = app;
  if (state.client === undefined || state.current === undefined) return;
  const key = state.current.key;
  state.busy++;
  try {
    await run(state.client);
    say(app, `${done}: “${key}”.`);
    await app.screens.openKey(key, { focus: false });
  } catch (error) {
    let message = explain(app, error, what);
    if (message === undefined) return;
    const holder = state.current?.value.lockHolder;
    if (isStatus(error, 409) && holder) message = `${message} The key is locked by ${holder}.`;
    if (isStatus(error, 400) && /number/.test(error.message)) {
      message = `${what} needs a stored plain decimal number: ${error.message}`;
    }
    showDetailNotice(app, message);
  } finally {
    state.busy--;
  }
}

/** Deletes the open key after a confirmation, on the condition that it is still the version shown. */
async function remove(app: App, key: string): Promise<void> {
  const { state } = app;
  if (state.client === undefined || state.current === undefined) return;
  const sure = await confirmDialog(
    `Delete “${key}”?`,
    'The value is removed for every client. This cannot be undone.',
    'Delete',
  );
  if (!sure || state.client === undefined) return;
  state.busy++;
  try {
    await state.client.delete(key, { ifMatch: state.current.value.etag });
    say(app, `Deleted “${key}”.`);
    app.screens.showNothing();
    app.screens.scheduleRefresh();
  } catch (error) {
    if (isStatus(error, 412)) {
      const text =
        `“${key}” changed since you opened it, so it was not deleted (412). ` + 'Look at the latest version first.';
      showDetailNotice(app, text, 'warning', reloadButton(app, key));
      return;
    }
    const message = explain(app, error, 'Deleting');
    if (message !== undefined) showDetailNotice(app, message);
  } finally {
    state.busy--;
  }
}
