import type { Handler } from './types.js';

/** GET /openapi.yaml: the spec file, byte for byte as the server was built from it. */
export const getOpenApiYaml: Handler<'getOpenApiYaml'> = async ({ contract }) => ({
  status: 200,
  body: contract.yaml,
  headers: { 'Content-Type': 'application/yaml; charset=utf-8', 'Cache-Control': 'no-cache' },
});
