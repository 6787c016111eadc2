/**
 * The signed-in token: kept in sessionStorage (this tab only, gone when it closes), never in
 * localStorage or a cookie.
 */

const STORAGE_KEY = 'lucid.console.token';

/** What the token says about itself (read, not verified: the server verifies it on every call). */
export interface Claims {
  sub?: string;
  scope?: string;
  prefix?: string;
  exp?: number;
}

export function savedToken(): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveToken(token: string): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch {
    // Storage disabled: the console still works until the tab is reloaded.
  }
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing was stored.
  }
}

/** Accepts a pasted `export LUCID_TOKEN=...`, `Bearer ...` or a quoted token as well as the bare JWT. */
export function cleanToken(text: string): string {
  return text
    .trim()
    .replace(/^export\s+LUCID_TOKEN=/, '')
    .replace(/^Authorization:\s*/i, '')
    .replace(/^Bearer\s+/i, '')
    .replace(/^["']|["']$/g, '')
    .trim();
}

export function claimsOf(token: string): Claims | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const claims = JSON.parse(json) as unknown;
    return typeof claims === 'object' && claims !== null ? (claims as Claims) : undefined;
  } catch {
    return undefined;
  }
}
