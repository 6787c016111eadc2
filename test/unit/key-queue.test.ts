/**
 * The per-key queue every store's writes go through (src/store/key-queue.ts): one task at a time per
 * key, in the order they came, whatever the previous one did.
 */
import { expect, it } from 'vitest';
import { KeyQueue } from '../../src/store/key-queue.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A task that logs its start and end around a few turns of the event loop, and answers `result`. */
function logged<T>(log: string[], name: string, result: T, turns = 2): () => Promise<T> {
  return async () => {
    log.push(`${name} start`);
    for (let i = 0; i < turns; i++) await turn();
    log.push(`${name} end`);
    return result;
  };
}

it('runs the tasks of one key one at a time, in the order they came', async () => {
  const queue = new KeyQueue();
  const log: string[] = [];
  const answers = await Promise.all([
    queue.run('k', logged(log, 'a', 1)),
    queue.run('k', logged(log, 'b', 2)),
    queue.run('k', logged(log, 'c', 3)),
  ]);
  expect(answers).toEqual([1, 2, 3]);
  expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
});

it('runs the tasks of different keys side by side', async () => {
  const queue = new KeyQueue();
  const log: string[] = [];
  await Promise.all([queue.run('x', logged(log, 'x', 0)), queue.run('y', logged(log, 'y', 0))]);
  expect(log.slice(0, 2)).toEqual(['x start', 'y start']);
});

it('refuses a failed task to its caller only, and runs the next one', async () => {
  const queue = new KeyQueue();
  const failed = queue.run('k', async () => {
    await turn();
    throw new Error('boom');
  });
  const next = queue.run('k', async () => 'ran');
  await expect(failed).rejects.toThrow('boom');
  await expect(next).resolves.toBe('ran');
});

it('takes a key up again once it fell idle, and drains only when every task settled', async () => {
  const queue = new KeyQueue();
  const log: string[] = [];
  await queue.run('k', logged(log, 'first', 0, 1));
  const later = queue.run('k', logged(log, 'second', 0, 3));
  const behind = queue.run('k', logged(log, 'third', 0, 1));
  await queue.drain();
  expect(log).toEqual(['first start', 'first end', 'second start', 'second end', 'third start', 'third end']);
  await Promise.all([later, behind]);
  // Idle again: a drain has nothing to wait for.
  let drained = false;
  void queue.drain().then(() => (drained = true));
  await Promise.resolve();
  await Promise.resolve();
  expect(drained).toBe(true);
});

it('holds every key of runAll, so a task on one of them waits for the whole multi-key task', async () => {
  const queue = new KeyQueue();
  const log: string[] = [];
  const both = queue.runAll(['b', 'a', 'b'], logged(log, 'a+b', 'done', 3));
  await turn();
  const single = queue.run('b', logged(log, 'b', 'alone', 0));
  expect(await Promise.all([both, single])).toEqual(['done', 'alone']);
  expect(log).toEqual(['a+b start', 'a+b end', 'b start', 'b end']);
});
