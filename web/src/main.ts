/**
 * Lucid's web console: sign in with a token, browse keys by prefix, open, create, edit, delete,
 * lock, count and expire values, and watch it all change live. Every call goes through the typed
 * client (src/client), so no URL is written by hand here.
 *
 * This is the composition root: it makes the one state object and the page's elements, wires each
 * screen's entry points for the others, and starts. The screens live in their own modules:
 * signin.ts, key-list.ts, value.ts (with value-actions.ts, value-view.ts), editor.ts (with
 * editor-save.ts) and live.ts; shortcuts.ts holds the page-wide keys.
 */
import './style.css';
import { createState, type App } from './app.js';
import { cancelEdit, showEditor } from './editor.js';
import { findElements } from './elements.js';
import { loadPage, renderRows, scheduleRefresh, tickRelativeTimes, wireKeyList } from './key-list.js';
import { connectLive } from './live.js';
import { savedToken } from './session.js';
import { wireShortcuts } from './shortcuts.js';
import { showSignIn, signIn, signOut, wireSignIn } from './signin.js';
import { closeValue, openKey, showGone, showNothing, showValue } from './value.js';

function createConsole(): App {
  const app: App = {
    state: createState(),
    ui: findElements(),
    screens: {
      signOut: (message) => signOut(app, message),
      loadPage: () => loadPage(app),
      scheduleRefresh: () => scheduleRefresh(app),
      renderRows: () => renderRows(app),
      openKey: (key, options) => openKey(app, key, options),
      showValue: (key, value, note) => showValue(app, key, value, note),
      showGone: (key, why) => showGone(app, key, why),
      showNothing: () => showNothing(app),
      closeValue: () => closeValue(app),
      showEditor: (options) => showEditor(app, options),
      cancelEdit: () => cancelEdit(app),
      connectLive: () => connectLive(app),
    },
  };
  return app;
}

function start(): void {
  const app = createConsole();
  wireSignIn(app);
  wireKeyList(app);
  wireShortcuts(app);
  setInterval(tickRelativeTimes, 1000);
  const remembered = savedToken();
  if (remembered !== undefined) void signIn(app, remembered, true);
  else showSignIn(app);
}

start();
