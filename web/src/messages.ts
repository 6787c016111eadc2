/** What the console tells its user: the toast, the notice above a value, and a sentence for each failure. */
import { LucidApiError } from '../../src/client/index.js';
import type { App, ConsoleState } from './app.js';
import { h } from './dom.js';
import { formatTime } from './format.js';

export type Tone = 'error' | 'warning' | 'info';

/** A short message in the corner that goes away by itself. */
export function say({ state, ui }: App, message: string): void {
  ui.toast.textContent = message;
  ui.toast.classList.add('shown');
  clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => ui.toast.classList.remove('shown'), 4000);
}

export function unauthorizedMessage({ claims }: ConsoleState): string {
  const exp = claims?.exp;
  if (exp !== undefined && exp * 1000 <= Date.now()) {
    const when = formatTime(new Date(exp * 1000).toISOString());
    return `Your token expired at ${when}. Sign in with a new one (lucid token issue).`;
  }
  return (
    'Lucid refused this token (401): it is invalid, expired, revoked or signed with another secret. ' +
    'Paste a fresh one (lucid token issue).'
  );
}

/** A sentence for any failure; a 401 signs out instead (and returns undefined). */
export function explain(app: App, error: unknown, action: string): string | undefined {
  if (error instanceof LucidApiError) {
    switch (error.status) {
      case 401:
        app.screens.signOut(unauthorizedMessage(app.state));
        return undefined;
      case 403:
        return (
          `Not allowed (403): ${error.message} Sign in with a token that allows it ` +
          '(lucid token issue --scope write, with --prefix covering the key).'
        );
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

export function isStatus(error: unknown, status: number): error is LucidApiError {
  return error instanceof LucidApiError && error.status === status;
}

/** Shows a problem (or clears it) above the value or editor. */
export function showDetailNotice(
  { state }: App,
  message: string | undefined,
  tone: Tone = 'error',
  ...actions: HTMLElement[]
): void {
  const notice = state.detailNotice;
  if (notice === undefined) return;
  notice.className = `notice ${tone}`;
  notice.replaceChildren();
  if (message === undefined) {
    notice.hidden = true;
    return;
  }
  notice.append(h('p', {}, message));
  if (actions.length > 0) notice.append(h('div', { class: 'actions' }, ...actions));
  notice.hidden = false;
}

/** A fresh, empty notice for the value or editor about to be shown; it becomes the one showDetailNotice fills. */
export function newDetailNotice(state: ConsoleState): HTMLElement {
  state.detailNotice = h('div', { class: 'notice', role: 'alert', hidden: true, id: 'detail-notice' });
  return state.detailNotice;
}

/** A button that shows the key as it is now (a notice's way out of a conflict). */
export function reloadButton(app: App, key: string, label = 'Reload the latest version'): HTMLButtonElement {
  return h('button', { type: 'button', class: 'primary', onclick: () => void app.screens.openKey(key) }, label);
}
