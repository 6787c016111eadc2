/** The live view: Lucid's notification stream keeps the key list and the open value current. */
import type { Notification } from '../../src/client/index.js';
import type { App } from './app.js';
import { formatTime } from './format.js';
import { isStatus, reloadButton, showDetailNotice, unauthorizedMessage } from './messages.js';

type LiveState = 'connecting' | 'live' | 'offline';

function setLive({ ui }: App, state: LiveState, text: string): void {
  ui.live.dataset.state = state;
  ui.live.textContent = text;
}

/** Opens the notification stream (closing any before it), and reopens it when it drops. */
export function connectLive(app: App): void {
  const { state, screens } = app;
  if (state.client === undefined) return;
  state.events?.close();
  clearTimeout(state.reconnectTimer);
  setLive(app, 'connecting', 'Connecting…');
  const source = new EventSource(state.client.notificationsUrl());
  state.events = source;
  source.addEventListener('open', () => setLive(app, 'live', 'Live'));
  source.addEventListener('message', (event: MessageEvent<string>) => {
    try {
      onChange(app, JSON.parse(event.data) as Notification);
    } catch {
      // Not a change event: ignore it.
    }
  });
  source.addEventListener('reset', () => {
    screens.scheduleRefresh();
    if (state.current !== undefined && state.editor === undefined)
      void screens.openKey(state.current.key, { focus: false });
  });
  source.addEventListener('error', () => onStreamError(app, source));
}

function onStreamError(app: App, source: EventSource): void {
  const { state } = app;
  if (source !== state.events) return;
  if (source.readyState === EventSource.CONNECTING) {
    setLive(app, 'connecting', 'Reconnecting…');
    return;
  }
  // Closed for good: a refused token (401/403) or the server is gone. Find out which.
  setLive(app, 'offline', 'Offline');
  const reconnect = () => connectLive(app);
  void state.client
    ?.list({ limit: 1 })
    .then(() => {
      state.reconnectTimer = setTimeout(reconnect, 3000);
    })
    .catch((error: unknown) => {
      if (isStatus(error, 401)) app.screens.signOut(unauthorizedMessage(state));
      else state.reconnectTimer = setTimeout(reconnect, 5000);
    });
}

/** One change: the list reloads if it shows the key; the open value or editor hears of it. */
function onChange(app: App, change: Notification): void {
  const { state, screens } = app;
  if (change.key.startsWith(state.list.prefix)) screens.scheduleRefresh();
  const openKeyName = state.editor?.key ?? state.current?.key;
  if (openKeyName !== change.key || state.busy > 0) return;
  if (change.type === 'deleted' || change.type === 'expired') {
    if (state.editor !== undefined) {
      const text = `“${change.key}” was ${change.type} meanwhile. Saving will be refused unless you create it anew.`;
      showDetailNotice(app, text, 'warning');
      return;
    }
    screens.showGone(change.key, change.type);
    return;
  }
  if (state.current !== undefined && change.etag === state.current.value.etag) return; // already this version
  if (state.editor !== undefined) {
    showDetailNotice(
      app,
      `“${change.key}” was just changed by another client (${change.type}). ` +
        'Saving your edit will be refused; reload to see their version.',
      'warning',
      reloadButton(app, change.key, 'Reload their version (discard mine)'),
    );
    return;
  }
  void refreshOpen(app, change);
}

/** Shows the new version of the open value, keeping focus where it was. */
async function refreshOpen(app: App, change: Notification): Promise<void> {
  const { state, screens } = app;
  if (state.client === undefined || state.current === undefined) return;
  const key = state.current.key;
  try {
    const value = await state.client.get(key);
    if (state.current?.key !== key || state.editor !== undefined || value.etag === state.current.value.etag) return;
    screens.showValue(key, value, `Updated live: ${change.type} at ${formatTime(change.time)}.`);
  } catch (error) {
    if (isStatus(error, 404)) screens.showGone(key, 'deleted');
  }
}
