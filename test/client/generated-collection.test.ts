/**
 * A client generated from the spec by a generator no one here wrote: openapi-to-postmanv2 (the
 * converter Postman and Portman use) turns spec/lucid.yaml into a Postman collection, and newman
 * runs it against a real Lucid. Every request but the notification stream must succeed as generated:
 * the bodies, content types, headers and parameters come from the spec's own examples.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import newman, { type NewmanRunSummary } from 'newman';
import Converter, { type Options } from 'openapi-to-postmanv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLucid, type TestLucid } from '../support/lucid.js';

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../spec/lucid.yaml');

interface Item {
  name?: string;
  item?: Item[];
  request?: { method: string; url: { path?: string[] } };
}

/** The collection openapi-to-postmanv2 makes from the spec. Optional parameters stay in it, disabled. */
async function convert(): Promise<{ item: Item[] }> {
  const options: Options = {
    folderStrategy: 'Paths',
    requestParametersResolution: 'Example',
    enableOptionalParameters: false,
  };
  return new Promise((resolve, reject) => {
    Converter.convert({ type: 'string', data: readFileSync(SPEC, 'utf8') }, options, (error, result) => {
      const output = result?.result === true ? result.output?.[0]?.data : undefined;
      if (error) reject(error);
      else if (output === undefined) reject(new Error(`openapi-to-postmanv2 refused the spec: ${result?.reason}`));
      else resolve(output as { item: Item[] });
    });
  });
}

/** Every request of the collection, folders flattened. */
function requests(items: Item[]): Item[] {
  return items.flatMap((item) => (item.item ? requests(item.item) : [item]));
}

const isStream = (item: Item) => item.request!.url.path?.join('/') === 'api/notifications';
const KEY_ORDER = ['PUT', 'GET', 'HEAD', 'PATCH', 'DELETE'];
/**
 * The order the requests run in, so none depends on luck: the key's PUT before every other
 * operation on it, its DELETE last (the listing in between sees the key).
 */
function rank(item: Item): number {
  const onKey = item.request!.url.path?.includes(':key') ?? false;
  return onKey ? KEY_ORDER.indexOf(item.request!.method) * 2 : item.request!.method === 'GET' ? 5 : 10;
}

function run(collection: object, lucid: TestLucid, token: string): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    newman.run(
      {
        collection,
        envVar: [
          { key: 'baseUrl', value: lucid.url },
          { key: 'bearerToken', value: token },
        ],
        reporters: [],
        timeoutRequest: 10_000,
      },
      (error, summary) => (error ? reject(error) : resolve(summary)),
    );
  });
}

describe('a Postman collection generated from the spec, run by newman', () => {
  let lucid: TestLucid;
  beforeAll(async () => {
    lucid = await startLucid();
  });
  afterAll(() => lucid.close());

  it('succeeds on every request except the streaming one', async () => {
    const collection = await convert();
    const all = requests(collection.item);
    const runnable = all.filter((item) => !isStream(item)).sort((a, b) => rank(a) - rank(b));
    expect(all.length - runnable.length).toBe(1);
    const summary = await run(
      { ...collection, item: runnable },
      lucid,
      lucid.authority.issue('newman', 600, { scope: 'admin' }),
    );

    const answered = summary.run.executions.map((execution) => ({
      request: `${execution.request.method} ${execution.request.url.getPathWithQuery()}`,
      status: execution.response?.code,
      body: execution.response?.code && execution.response.code >= 300 ? execution.response.text() : undefined,
    }));
    expect(summary.run.failures).toEqual([]);
    expect(
      answered.filter((answer) => !(answer.status !== undefined && answer.status >= 200 && answer.status < 300)),
    ).toEqual([]);
    expect(answered.map((answer) => answer.request)).toContain('PUT /api/kv/greeting');
    expect(answered).toHaveLength(runnable.length);
    // The generated PUT sent the spec's example with a concrete media type (not `*/*`, which Lucid
    // would store and hand back as the value's type), and GET returned both.
    const put = summary.run.executions.find((execution) => execution.request.method === 'PUT')!;
    const get = summary.run.executions.find(
      (execution) => execution.request.method === 'GET' && execution.request.url.getPath() === '/api/kv/greeting',
    )!;
    const sentType = put.request.headers.get('Content-Type');
    expect(put.response.code).toBe(201);
    expect(sentType).toMatch(/^(application\/octet-stream|text\/plain)$/);
    expect(get.response.headers.get('Content-Type')).toBe(sentType);
    expect(get.response.text()).toBe('hello world');
  });
});
