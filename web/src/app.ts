/**
 * The console's whole state, in one typed object that main.ts creates and hands to every screen,
 * and the `App` each screen function receives: that state, the page's fixed elements, and the
 * other screens' entry points (wired by main.ts, so no screen module imports another).
 */
import type { KeyInfo, LucidClient, LucidValue } from '../../src/client/index.js';
import type { PageElements } from './elements.js';
import type { Claims } from './session.js';

export type Timer = ReturnType<typeof setTimeout>;

/** The key list: which keys, which page, and the loads in flight. */
export interface ListState {
  prefix: string;
  limit: number;
  /** The cursor that starts each page seen so far (page 1 has none). */
  cursors: (string | undefined)[];
  page: number;
  keys: KeyInfo[];
  next: string | undefined;
  /** Numbers each load, so that only the newest one renders. */
  seq: number;
  refreshTimer: Timer | undefined;
}

/** The value on screen. */
export interface OpenValue {
  key: string;
  value: LucidValue;
  objectUrl?: string;
}

export type EditorMode = 'text' | 'file';

/** The editor, when one is open. */
export interface EditorState {
  isNew: boolean;
  key?: string;
  etag?: string;
  mode: EditorMode;
  saving: boolean;
  dirty: boolean;
}

export interface ConsoleState {
  /** Set once signed in; undefined on the sign-in screen. */
  client: LucidClient | undefined;
  claims: Claims | undefined;
  /** The live notifications stream, and the timer that reopens it. */
  events: EventSource | undefined;
  reconnectTimer: Timer | undefined;
  toastTimer: Timer | undefined;
  readonly list: ListState;
  current: OpenValue | undefined;
  editor: EditorState | undefined;
  /** Where problems with the value or editor are shown, while one is on screen. */
  detailNotice: HTMLElement | undefined;
  /** Writes of this console in flight: their own notifications are not news (the writer reloads the key itself). */
  busy: number;
}

export function createState(): ConsoleState {
  return {
    client: undefined,
    claims: undefined,
    events: undefined,
    reconnectTimer: undefined,
    toastTimer: undefined,
    list: {
      prefix: '',
      limit: 50,
      cursors: [undefined],
      page: 0,
      keys: [],
      next: undefined,
      seq: 0,
      refreshTimer: undefined,
    },
    current: undefined,
    editor: undefined,
    detailNotice: undefined,
    busy: 0,
  };
}

/** Back to page 1 (a new prefix or page size). */
export function resetPages(list: ListState): void {
  list.cursors = [undefined];
  list.page = 0;
}

export type GoneReason = 'deleted' | 'expired' | 'missing';

/** What one screen asks of another. */
export interface Screens {
  signOut(message?: string): void;
  loadPage(): Promise<void>;
  /** Reloads the page of keys shown, soon: several changes in a burst cost one request. */
  scheduleRefresh(): void;
  renderRows(): void;
  openKey(key: string, options?: { focus?: boolean }): Promise<void>;
  showValue(key: string, value: LucidValue, note?: string): void;
  showGone(key: string, why: GoneReason): void;
  showNothing(): void;
  closeValue(): void;
  showEditor(options: { isNew: boolean; mode: EditorMode }): void;
  cancelEdit(): Promise<void>;
  connectLive(): void;
}

export interface App {
  state: ConsoleState;
  ui: PageElements;
  screens: Screens;
}
