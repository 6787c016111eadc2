// Cleaning up after a Lucid that ran on the shared Redis: its namespace's keys share one hash tag.
import { createClient } from '@redis/client';

/** Deletes every key of a Lucid namespace (`{namespace}:*`) from the Redis at `url`. */
export async function dropRedisNamespace(url, namespace) {
  const client = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `{${namespace}}:*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    client.destroy();
  }
}
