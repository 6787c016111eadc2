import type { Handler } from './types.js';

/** GET /openapi.json: the same spec as JSON. */
export const getOpenApiJson: Handler<'getOpenApiJson'> = async ({ contract }) => ({
  status: 200,
  body: contract.json,
  headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' },
});
