/**
 * A PostgreSQL URL without a user name, in an environment without USER or PGUSER (containers,
 * service managers): the real built server connects as the operating system's user, as psql does,
 * instead of exiting with "no PostgreSQL user name specified in startup packet".
 */
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_URL, backendReady, dropNamespace, freshNamespace } from '../support/backends.js';
import { assertBuilt, cleanup, runLucid, startServer, tempDir } from './cli.js';

const ready = await backendReady('postgres');
const osUser = userInfo().username;

/** The test URL with its user name and password removed. */
function withoutUser(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}

/** Runs one statement as the test URL's (super)user. */
async function asAdmin(sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe.runIf(ready)('lucid server on a PostgreSQL URL without a user name', () => {
  const namespace = freshNamespace();
  const role = pg.escapeIdentifier(osUser);
  let createdRole = false;

  beforeAll(async () => {
    assertBuilt();
    // The OS user needs a role, as it would for psql; this machine has one, elsewhere the test makes it.
    const exists = await asAdmin(`SELECT 1 FROM pg_roles WHERE rolname = ${pg.escapeLiteral(osUser)}`);
    if (exists.rowCount === 0) {
      await asAdmin(`CREATE ROLE ${role} LOGIN`);
      await asAdmin(`GRANT ALL ON SCHEMA public TO ${role}`);
      createdRole = true;
    }
  });
  afterAll(async () => {
    await cleanup();
    await dropNamespace('postgres', namespace);
    if (createdRole) {
      await asAdmin(`REVOKE ALL ON SCHEMA public FROM ${role}`);
      await asAdmin(`DROP ROLE ${role}`);
    }
  });

  it('connects as the operating system user when neither the URL, PGUSER nor USER names one', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'lucid.yml');
    const init = await runLucid(['init', '--config', file], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    const url = withoutUser(POSTGRES_URL);
    expect(url).not.toContain('@');
    const server = await startServer(['--config', file, '--port', '0'], {
      cwd: dir,
      env: { LUCID_STORE: url, LUCID_STORE_NAMESPACE: namespace },
      unset: ['USER', 'PGUSER', 'LOGNAME', 'USERNAME'],
    });
    const token = init.stdout.trim();
    const put = await server.request('/api/kv/who', {
      method: 'PUT',
      body: 'me',
      headers: { 'content-type': 'text/plain' },
      token,
    });
    expect(put.status).toBe(201);
    expect(await (await server.request('/api/kv/who', { token })).text()).toBe('me');
    const owner = await asAdmin(`SELECT tableowner FROM pg_tables WHERE tablename = '${namespace}_kv'`);
    expect(owner.rows).toEqual([{ tableowner: osUser }]);
    expect(server.stderr).not.toContain('no PostgreSQL user name');
    await server.stop();
  });
});
