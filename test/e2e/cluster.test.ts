/**
 * Several Lucid processes (the real built CLI) on one real Redis, and again on one real PostgreSQL:
 * every promise the API makes must hold across nodes exactly as on one.
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_URLS, backendReady, dropNamespace, freshNamespace, type SharedBackend } from '../support/backends.js';
import { type Cluster, CuttableProxy, startCluster } from '../support/cluster.js';
import { pool } from '../support/pool.js';
import { openStream, type SseStream } from '../support/sse.js';
import { sleep } from '../support/helpers.js';
import { cleanup, runLucid, startServer, tempDir } from './cli.js';

const NODES = 3;

for (const backend of ['redis', 'postgres'] as SharedBackend[]) {
  const ready = await backendReady(backend);
  describe.runIf(ready)(`${NODES} Lucid nodes on one ${backend}`, () => {
    const namespace = freshNamespace();
    let cluster: Cluster;
    const on = (i: number) => cluster.nodes[i % cluster.nodes.length]!;
    const req = (i: number, pathname: string, init: RequestInit = {}) =>
      on(i).request(pathname, { ...init, token: cluster.token });

    beforeAll(async () => {
      cluster = await startCluster(backend, namespace);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(cluster?.nodes.map((node) => node.stop()) ?? []);
      await dropNamespace(backend, namespace);
      await cleanup();
    });

    it('ends 2 x 1000 concurrent increments spread over the nodes exactly 2000 higher', async () => {
      expect(
        (await req(0, '/api/kv/counter', { method: 'PUT', body: '0', headers: { 'content-type': 'text/plain' } }))
          .status,
      ).toBe(201);
      const statuses = await Promise.all(
        [0, 1].map(() =>
          pool(1000, 32, async (i) => {
            const response = await req(i, '/api/kv/counter', {
              method: 'PATCH',
              body: JSON.stringify({ operation: 'increment', value: 1 }),
              headers: { 'content-type': 'application/json' },
            });
            await response.arrayBuffer();
            return response.status;
          }),
        ),
      );
      expect(statuses.flat().filter((status) => status !== 200)).toEqual([]);
      for (let i = 0; i < NODES; i++) expect(await (await req(i, '/api/kv/counter')).text()).toBe('2000');
    });

    it('gives exactly one 201 among concurrent creates of a new key from every node', async () => {
      const statuses = await pool(60, 60, async (i) => {
        const response = await req(i, '/api/kv/contested', {
          method: 'PUT',
          body: `node ${i % NODES}`,
          headers: { 'content-type': 'text/plain' },
        });
        await response.arrayBuffer();
        return response.status;
      });
      expect(statuses.filter((status) => status === 201)).toHaveLength(1);
      expect(statuses.filter((status) => status === 200)).toHaveLength(59);
    });

    it('honours a lock taken on one node on the others, and lets its lease lapse by itself', async () => {
      await req(0, '/api/kv/locked', { method: 'PUT', body: 'v1', headers: { 'content-type': 'text/plain' } });
      const lock = await req(0, '/api/kv/locked', {
        method: 'PATCH',
        body: JSON.stringify({ operation: 'lock', value: 1 }),
        headers: { 'content-type': 'application/json' },
      });
      expect(lock.status).toBe(200);
      const refused = await req(1, '/api/kv/locked', {
        method: 'PUT',
        body: 'v2',
        headers: { 'content-type': 'text/plain' },
      });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { message: string }).message).toBe('The specified key cannot be updated.');
      expect((await req(2, '/api/kv/locked', { method: 'DELETE' })).status).toBe(409);
      await sleep(1300);
      expect(
        (await req(2, '/api/kv/locked', { method: 'PUT', body: 'v3', headers: { 'content-type': 'text/plain' } }))
          .status,
      ).toBe(200);
      expect(await (await req(1, '/api/kv/locked')).text()).toBe('v3');
    });

    it('loses no compare-and-swap update across nodes', async () => {
      await req(0, '/api/kv/cas', { method: 'PUT', body: '0', headers: { 'content-type': 'text/plain' } });
      let conflicts = 0;
      await pool(30, 30, async (i) => {
        for (;;) {
          const read = await req(i, '/api/kv/cas');
          const next = String(Number(await read.text()) + 1);
          const write = await req(i + 1, '/api/kv/cas', {
            method: 'PUT',
            body: next,
            headers: { 'content-type': 'text/plain', 'if-match': read.headers.get('etag')! },
          });
          await write.arrayBuffer();
          if (write.status === 200) return;
          expect(write.status).toBe(412);
          conflicts++;
        }
      });
      expect(await (await req(2, '/api/kv/cas')).text()).toBe('30');
      expect(conflicts).toBeGreaterThan(0); // The race really happened.
    });

    it('makes an expired key gone on every node, and lists keys written anywhere, in order, a page at a time', async () => {
      for (const [i, key] of ['list/c', 'list/a', 'list/b', 'list/d'].entries()) {
        await req(i, `/api/kv/${key}`, { method: 'PUT', body: key, headers: { 'content-type': 'text/plain' } });
      }
      expect(
        (
          await req(0, '/api/kv/list/e?ttl=1', {
            method: 'PUT',
            body: 'short',
            headers: { 'content-type': 'text/plain' },
          })
        ).status,
      ).toBe(201);
      expect((await req(1, '/api/kv/list/e')).status).toBe(200);
      await sleep(1200);
      for (let i = 0; i < NODES; i++) expect((await req(i, '/api/kv/list/e')).status).toBe(404);
      const first = (await (await req(1, '/api/kv?prefix=list/&limit=3')).json()) as {
        keys: Array<{ key: string }>;
        cursor?: string;
      };
      expect(first.keys.map((info) => info.key)).toEqual(['list/a', 'list/b', 'list/c']);
      const second = (await (
        await req(2, `/api/kv?prefix=list/&limit=3&cursor=${encodeURIComponent(first.cursor!)}`)
      ).json()) as { keys: Array<{ key: string }> };
      expect(second.keys.map((info) => info.key)).toEqual(['list/d']);
    });

    it('streams a write made on one node to a client of another, in order, and resumes from Last-Event-ID on a third', async () => {
      const headers = { authorization: `Bearer ${cluster.token}` };
      const stream: SseStream = await openStream(`${on(2).url}/api/notifications?prefix=feed/`, headers);
      for (let n = 1; n <= 5; n++)
        await req(0, '/api/kv/feed/x', { method: 'PUT', body: String(n), headers: { 'content-type': 'text/plain' } });
      await req(1, '/api/kv/feed/x', { method: 'DELETE' });
      await stream.until(
        (blocks) => blocks.filter((block) => block.data !== undefined && block.event === undefined).length >= 6,
        5000,
      );
      const seen = stream.changes();
      expect(seen.map((change) => `${change.type}:${change.value ?? ''}`)).toEqual([
        'created:1',
        'updated:2',
        'updated:3',
        'updated:4',
        'updated:5',
        'deleted:',
      ]);
      const third = stream.blocks.filter((block) => block.data !== undefined && block.event === undefined)[2]!;
      await stream.close();
      await req(2, '/api/kv/feed/y', { method: 'PUT', body: 'after', headers: { 'content-type': 'text/plain' } });
      // A new node, started after those events, still replays them from the backend's log.
      const late = await startServer(['--config', cluster.file, '--port', '0'], { cwd: cluster.dir, env: cluster.env });
      try {
        const resumed = await openStream(`${late.url}/api/notifications?prefix=feed/`, {
          ...headers,
          'last-event-id': third.id!,
        });
        await resumed.until(
          (blocks) => blocks.filter((block) => block.data !== undefined && block.event === undefined).length >= 4,
          5000,
        );
        expect(resumed.changes().map((change) => `${change.type}:${change.key}:${change.value ?? ''}`)).toEqual([
          'updated:feed/x:4',
          'updated:feed/x:5',
          'deleted:feed/x:',
          'created:feed/y:after',
        ]);
        expect(resumed.blocks.some((block) => block.event === 'reset')).toBe(false);
        await resumed.close();
      } finally {
        await late.stop();
      }
    });

    it('honours `lucid token revoke` on every node within a second or so', async () => {
      const issued = await runLucid(['token', 'issue', '--config', cluster.file, '--scope', 'read'], {
        cwd: cluster.dir,
        env: cluster.env,
      });
      const token = issued.stdout.trim();
      for (let i = 0; i < NODES; i++) expect((await on(i).request('/api/kv/counter', { token })).status).toBe(200);
      const revoked = await runLucid(['token', 'revoke', token, '--config', cluster.file], {
        cwd: cluster.dir,
        env: cluster.env,
      });
      expect(revoked.code, revoked.stderr).toBe(0);
      await sleep(1200);
      for (let i = 0; i < NODES; i++) expect((await on(i).request('/api/kv/counter', { token })).status).toBe(401);
    });
  });
}

for (const backend of ['redis', 'postgres'] as SharedBackend[]) {
  const ready = await backendReady(backend);
  describe.runIf(ready)(`a Lucid node that loses its ${backend}`, () => {
    const namespace = freshNamespace();
    afterAll(async () => {
      await dropNamespace(backend, namespace);
      await cleanup();
    });

    it('refuses to start when the backend cannot be reached, with one clear line', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'lucid.yml');
      await runLucid(['init', '--config', file], { cwd: dir });
      const closedPort = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      const url =
        backend === 'redis' ? `redis://127.0.0.1:${closedPort}` : `postgres://postgres@127.0.0.1:${closedPort}/test`;
      const result = await runLucid(['server', '--config', file, '--port', '0'], {
        cwd: dir,
        env: { LUCID_STORE: url, LUCID_STORE_NAMESPACE: namespace },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(`^lucid: Cannot reach ${backend === 'redis' ? 'Redis' : 'PostgreSQL'} at `),
      );
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    });

    it('answers 503 JSON while the backend is gone and recovers by itself when it returns', async () => {
      const target = new URL(BACKEND_URLS[backend]);
      const proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port) });
      await proxy.open();
      const proxied = new URL(BACKEND_URLS[backend]);
      proxied.port = String(proxy.port);
      const cluster = await startCluster(backend, namespace, 1, proxied.toString());
      const node = cluster.nodes[0]!;
      const put = (body: string) =>
        node.request('/api/kv/outage', {
          method: 'PUT',
          body,
          token: cluster.token,
          headers: { 'content-type': 'text/plain' },
        });
      try {
        expect((await put('before')).status).toBe(201);
        await proxy.cut();
        const started = Date.now();
        for (const response of [
          await put('during'),
          await node.request('/api/kv/outage', { token: cluster.token }),
          await node.request('/health'),
        ]) {
          expect(response.status).toBe(503);
          expect(response.headers.get('content-type')).toMatch(/^application\/json/);
          expect(((await response.json()) as { message: string }).message).toMatch(/\w/);
        }
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(node.running).toBe(true);
        await proxy.open(proxy.port);
        let status = 0;
        for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
          await sleep(100);
          const response = await node.request('/api/kv/outage', { token: cluster.token });
          status = response.status;
          if (status === 200) expect(await response.text()).toBe('before');
          else await response.arrayBuffer();
        }
        expect(status).toBe(200);
        expect((await put('after')).status).toBe(200);
      } finally {
        await proxy.cut();
        await node.stop();
      }
    }, 60_000);
  });
}
