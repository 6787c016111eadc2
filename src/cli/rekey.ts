/**
 * `lucid rekey`: re-encrypts every value with a new key (or encrypts an unencrypted store) and prints the config to
 * use.
 */
import { loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { openBackend } from '../store/open.js';
import { Keyring, generateKey, parseKey, rekeyStore } from '../store/encrypted.js';
import { openWritable } from './backup.js';
import { progress, rate, seconds } from './progress.js';

export interface RekeyOptions {
  config?: string;
  newKey?: string;
}

export async function rekeyCommand(
  options: RekeyOptions,
  io: { out: (text: string) => void; err: (text: string) => void },
): Promise<void> {
  const { config } = loadConfig({ file: options.config });
  const newKey = options.newKey ?? generateKey();
  const target = parseKey(newKey, '--new-key');
  const { key, previousKeys } = config.encryption;
  const configured = [key, ...previousKeys]
    .filter((text) => text !== '')
    .map((text) => ({ text, key: parseKey(text) }));
  const keyring = new Keyring(
    target,
    configured.map((candidate) => candidate.key),
  );
  const store = await openWritable(() => openBackend(config, () => undefined, undefined, { bulk: true }));
  // Printed before anything is re-encrypted: a generated key must not be lost to an interruption.
  io.out(`encryption:\n  key: "${newKey}"\n`);
  const generated =
    options.newKey === undefined ? ' (generated; keep the line above: the values are being encrypted with it)' : '';
  io.err(`New key id ${target.id}${generated}. Re-encrypting...\n`);
  const started = Date.now();
  const bar = progress('Re-encrypting | {value} values | {rate} values/s | {duration_formatted}', 0, { rate: 0 });
  try {
    const summary = await rekeyStore(store, keyring, (done) => {
      if (done % 500 === 0) bar.update(done, { rate: rate(done, Date.now() - started) });
    });
    bar.stop();
    const elapsed = Date.now() - started;
    io.err(
      `Re-encrypted ${summary.rewritten} values (${summary.kept} were already under the new key) ` +
        `in ${seconds(elapsed)}. ` +
        'Put the lines above in the config (or LUCID_ENCRYPTION_KEY) and start the server; ' +
        'the old key is no longer needed.\n',
    );
  } catch (error) {
    bar.stop();
    throw new ConfigError(
      `${(error as Error).message} The rekey stopped part-way: ` +
        'run `lucid rekey --new-key <the key above>` again to finish ' +
        '(until then a server needs the new key as encryption.key and the old one in encryption.previousKeys).',
    );
  } finally {
    await store.close();
  }
}
