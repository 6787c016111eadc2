/** What the request path writes to the logs: URLs with every token taken out. */

/** Query parameters whose values never reach a log line (the notification stream takes its token as ?token=). */
const SECRET_QUERY_PARAMETERS = new Set(['token']);

/** A JWS in compact form: three base64url parts (the third may be empty for `alg: none`). */
const LOOKS_LIKE_JWT = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;

/**
 * A request's URL for the logs: the value of `token`, and any value that looks like a JWT whatever
 * its name (`TOKEN=`, `token[]=`, `token%00=` and other misspellings), replaced by [Redacted].
 */
export function loggableUrl(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  // Parsed as the router parses it, so a percent-encoded name (%74oken) is caught too.
  const params = [...new URLSearchParams(url.slice(query + 1))].map(([name, value]) =>
    SECRET_QUERY_PARAMETERS.has(name) || LOOKS_LIKE_JWT.test(value.trim())
      ? `${encodeURIComponent(name)}=[Redacted]`
      : `${encodeURIComponent(name)}=${encodeURIComponent(value)}`,
  );
  return `${url.slice(0, query)}?${params.join('&')}`;
}
