/** Page-wide keys and events: `/` filters, `n` creates, Escape leaves the editor, the address opens a key. */
import type { App } from './app.js';
import { keyFromHash } from './hash.js';

export function wireShortcuts(app: App): void {
  const { state, ui, screens } = app;
  window.addEventListener('hashchange', () => {
    const key = keyFromHash();
    if (key !== undefined && key !== state.current?.key && state.client !== undefined) void screens.openKey(key);
  });
  document.addEventListener('keydown', (event) => {
    if (state.client === undefined || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target as HTMLElement;
    const dialogOpen = () => document.querySelector('dialog[open]') !== null;
    const typing = target.closest('input, textarea, select, [contenteditable]') !== null || dialogOpen();
    if (event.key === 'Escape' && state.editor !== undefined && !dialogOpen()) {
      event.preventDefault();
      void screens.cancelEdit();
    } else if (!typing && event.key === '/') {
      event.preventDefault();
      ui.prefixInput.focus();
      ui.prefixInput.select();
    } else if (!typing && event.key === 'n') {
      event.preventDefault();
      screens.showEditor({ isNew: true, mode: 'text' });
    }
  });
  window.addEventListener('beforeunload', (event) => {
    if (state.editor?.dirty) event.preventDefault(); // the browser asks before an unsaved edit is lost
  });
}
