/** The sign-in screen: a token checked against Lucid, kept for the tab, and signing out again. */
import { createLucidClient } from '../../src/client/index.js';
import { resetPages, type App } from './app.js';
import { notice } from './dom.js';
import { keyFromHash } from './hash.js';
import { explain, isStatus, unauthorizedMessage } from './messages.js';
import { claimsOf, cleanToken, forgetToken, saveToken, type Claims } from './session.js';

/** Tries the token (one listing call); on success shows the workspace, on failure says why. */
export async function signIn(app: App, raw: string, remembered = false): Promise<void> {
  const { state, ui } = app;
  const token = cleanToken(raw);
  const candidate = createLucidClient({ baseUrl: location.origin, ...(token === '' ? {} : { token }) });
  state.claims = token === '' ? undefined : claimsOf(token);
  notice(ui.signinError, undefined);
  try {
    await candidate.list({ limit: 1 });
  } catch (error) {
    if (remembered) forgetToken();
    let message: string;
    if (isStatus(error, 401))
      message = token === '' ? 'Lucid needs a token: paste one above.' : unauthorizedMessage(state);
    else if (isStatus(error, 403)) message = `This token is not allowed to list keys (403): ${error.message}`;
    else message = explain(app, error, 'Signing in') ?? '';
    showSignIn(app, message);
    return;
  }
  state.client = candidate;
  saveToken(token);
  await enterWorkspace(app);
}

async function enterWorkspace(app: App): Promise<void> {
  const { state, ui, screens } = app;
  ui.tokenInput.value = '';
  ui.signin.hidden = true;
  ui.workspace.hidden = false;
  ui.session.hidden = false;
  ui.identity.textContent = describeToken(state.claims);
  ui.identity.title = state.claims?.exp
    ? `Token valid until ${new Date(state.claims.exp * 1000).toLocaleString()}`
    : '';
  state.list.prefix = state.claims?.prefix ?? '';
  ui.prefixInput.value = state.list.prefix;
  resetPages(state.list);
  ui.main.focus({ preventScroll: true }); // the sign-in form is gone: focus moves on to the page
  await screens.loadPage();
  screens.connectLive();
  const fromHash = keyFromHash();
  if (fromHash !== undefined) await screens.openKey(fromHash, { focus: false });
  else screens.showNothing();
}

function describeToken(token: Claims | undefined): string {
  if (token === undefined) return 'no token';
  const parts = [token.sub ?? 'token', token.scope ?? 'write'];
  if (token.prefix) parts.push(`${token.prefix}*`);
  return parts.join(' · ');
}

export function showSignIn({ ui }: App, message?: string): void {
  ui.workspace.hidden = true;
  ui.session.hidden = true;
  ui.signin.hidden = false;
  notice(ui.signinError, message);
  ui.tokenInput.focus();
}

/** Forgets the token and everything shown with it, and goes back to the sign-in screen. */
export function signOut(app: App, message?: string): void {
  const { state, ui } = app;
  state.events?.close();
  state.events = undefined;
  clearTimeout(state.reconnectTimer);
  clearTimeout(state.list.refreshTimer);
  state.client = undefined;
  state.claims = undefined;
  forgetToken();
  ui.toast.classList.remove('shown');
  app.screens.closeValue();
  state.list.keys = [];
  ui.keyRows.replaceChildren();
  showSignIn(app, message);
}

/** The sign-in form (Enter submits, Shift+Enter is a new line) and the sign-out button. */
export function wireSignIn(app: App): void {
  const { ui } = app;
  ui.signinForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(app, ui.tokenInput.value);
  });
  ui.tokenInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      ui.signinForm.requestSubmit();
    }
  });
  ui.signOut.addEventListener('click', () => signOut(app, 'Signed out. The token was removed from this tab.'));
}
