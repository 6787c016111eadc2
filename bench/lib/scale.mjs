// The scale run: load N keys straight through the store module (dist/), then serve them and GET
// random keys, at 10 k keys and at N keys.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import cliProgress from 'cli-progress';
import { chooseDriver, measureRequests } from './load.mjs';
import { ROOT, initLucid, startLucid, storeBytes } from './lucid.mjs';
import { peakRssBytes, rssBytes, stop } from './processes.mjs';

export const scaleKey = (i) => `s/${i}`;

/** Loads keys [from, to) into the store file with `concurrency` writes in flight. */
async function load(dataFile, from, to, value, { concurrency = 64, log }) {
  const { openSqliteStore } = await import(pathToFileURL(path.join(ROOT, 'dist/store/sqlite.js')).href);
  const { putValue } = await import(pathToFileURL(path.join(ROOT, 'dist/kv.js')).href);
  const store = await openSqliteStore({ file: dataFile, sweepIntervalMs: 0 });
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        {
          format: '  loading {bar} {percentage}% | {value}/{total} keys | {rate} keys/s | eta {eta_formatted}',
          hideCursor: true,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const started = performance.now();
  bar?.start(to, from, { rate: 0 });
  let next = from;
  let done = 0;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      await putValue(store, scaleKey(i), value, 'application/octet-stream');
      done += 1;
      if (bar && done % 1000 === 0)
        bar.update(from + done, { rate: Math.round(done / ((performance.now() - started) / 1000)) });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    bar?.update(from + done, { rate: Math.round(done / ((performance.now() - started) / 1000)) });
    bar?.stop();
    await store.close();
  }
  const seconds = (performance.now() - started) / 1000;
  log(
    `  loaded ${(to - from).toLocaleString('en-US')} keys in ${seconds.toFixed(1)} s (${Math.round((to - from) / seconds)} keys/s)`,
  );
  return { seconds, rate: (to - from) / seconds };
}

/**
 * Runs the scale measurements. `checkpoints` are key counts in increasing order (10 000 and N).
 * Returns { valueBytes, points: [...] }.
 */
export async function runScale({ checkpoints, valueBytes = 1024, connections, duration, warmup, log }) {
  const lucid = initLucid('lucid-bench-scale-');
  const value = randomBytes(valueBytes);
  const points = [];
  let loaded = 0;
  try {
    for (const keys of checkpoints) {
      log(
        `scale: loading keys ${loaded.toLocaleString('en-US')}..${keys.toLocaleString('en-US')} through dist/store/sqlite.js`,
      );
      const loading = await load(lucid.dataFile, loaded, keys, value, { log });
      // Rate over this step; the overall rate is kept too.
      const previous = points.at(-1);
      const totalSeconds = (previous?.totalLoadSeconds ?? 0) + loading.seconds;
      loaded = keys;
      const disk = storeBytes(lucid.dataFile);
      const server = await startLucid(lucid, { name: `lucid (${keys} keys)` });
      try {
        const rssAtStart = rssBytes(server.handle.pid);
        log(
          `scale: ${keys.toLocaleString('en-US')} keys, server up in ${server.startupMs.toFixed(0)} ms; GET random keys`,
        );
        const get = await measureRequests({
          driver: chooseDriver(),
          url: server.url,
          requests: [{ method: 'GET', path: '/api/kv/s/', keys, headers: { authorization: `Bearer ${lucid.token}` } }],
          connections,
          duration,
          warmup,
        });
        points.push({
          keys,
          loadSeconds: loading.seconds,
          loadRate: keys / totalSeconds,
          stepLoadRate: loading.rate,
          totalLoadSeconds: totalSeconds,
          startupMs: server.startupMs,
          rssAtStart,
          rssAfter: rssBytes(server.handle.pid),
          rssPeak: peakRssBytes(server.handle.pid),
          get,
          diskBytes: disk.total,
          diskFiles: disk.files,
          storedValueBytes: keys * valueBytes,
          diskPerStoredByte: disk.total / (keys * valueBytes),
        });
      } finally {
        await stop(server.handle);
      }
    }
  } finally {
    rmSync(lucid.dir, { recursive: true, force: true });
  }
  return { valueBytes, points };
}
