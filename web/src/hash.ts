/** The open key lives in the address (`#key=...`), so a link or a reload opens it again. */

export function keyFromHash(): string | undefined {
  const match = /^#key=(.+)$/.exec(location.hash);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

export function setHash(key: string | undefined): void {
  const hash = key === undefined ? '' : `#key=${encodeURIComponent(key)}`;
  if (location.hash !== hash) history.replaceState(null, '', hash === '' ? location.pathname : hash);
}
