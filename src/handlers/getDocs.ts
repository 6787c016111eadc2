import type { Handler } from './types.js';

/**
 * The page: Swagger UI's bundle and stylesheet come from Lucid itself (/docs/assets, from the swagger-ui-dist package),
 * never a CDN.
 */
const page = Buffer.from(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Lucid API reference</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/lucid-docs.js"></script>
</body>
</html>
`);

/**
 * Swagger UI's needs and no more: its own scripts, styles (it sets some inline), data: images,
 * and fetching the spec from this server.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GET /docs: an interactive reference rendered from /openapi.json. */
export const getDocs: Handler<'getDocs'> = async () => ({
  status: 200,
  body: page,
  headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache', 'Content-Security-Policy': CSP },
});
