#!/usr/bin/env node
/**
 * The `lucid` command: parses argv and dispatches; the only place that turns errors into exit codes.
 * Each command's module is imported when that command runs, so `lucid server` does not load what
 * `lucid init` needs (a certificate generator) and its start-up pays for its own code only.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';

const io = { out: (text: string) => process.stdout.write(text), err: (text: string) => process.stderr.write(text) };

const program = new Command('lucid')
  .description('Lucid: a key-value store with an HTTP API.')
  .version(VERSION)
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)');

program
  .command('init')
  .description('write a config file with a generated secret (mode 0600) and print a root token')
  .option('-c, --config <file>', 'config file to write (default: $LUCID_CONFIG or ./lucid.yml)')
  .option('--secret <secret>', 'use this secret instead of generating one (at least 32 characters)')
  .option('-f, --force', 'overwrite an existing config file')
  .option(
    '--tls',
    'also write a self-signed certificate for localhost (tls/ beside the config) and serve HTTPS with it',
  )
  .option('--encrypt', 'also generate an encryption key (encryption at rest, AES-256-GCM)')
  .action(async (options) => (await import('./init.js')).init(options, io));

program
  .command('server')
  .description('run the Lucid server')
  .option('-c, --config <file>', 'config file (default: $LUCID_CONFIG or ./lucid.yml)')
  .option('-p, --port <port>', 'port to listen on (default 7021)')
  .option('-H, --host <host>', 'address to listen on (default 127.0.0.1)')
  .action(async (options) => (await import('./server.js')).serve(options, io.err));

const token = program.command('token').description('manage tokens');
token
  .command('issue')
  .description('print a new signed token (the JWT alone, on stdout)')
  .option('-c, --config <file>', 'config file (default: $LUCID_CONFIG or ./lucid.yml)')
  .option('-s, --subject <subject>', 'who the token is for', 'root')
  .option('-e, --expires-in <duration>', 'lifetime, e.g. 15m, 12h, 30d, 1y', '30d')
  .option('--scope <scope>', 'read, write (read-write) or admin', 'write')
  .option('--prefix <prefix>', 'limit the token to keys starting with this')
  .action(async (options) => {
    const { issueToken, tokenId } = await import('./token.js');
    const token = issueToken(options);
    io.out(`${token}\n`);
    if (process.stderr.isTTY)
      io.err(`(token id ${tokenId(token)}; revoke it with \`lucid token revoke ${tokenId(token)}\`)\n`);
  });
token
  .command('revoke')
  .description('deny a token before it expires (by its id, or the token itself); effective within a second')
  .argument('<id-or-token>', 'the token id (jti) or the token')
  .option('-c, --config <file>', 'config file (default: $LUCID_CONFIG or ./lucid.yml)')
  .action(async (idOrToken: string, options) => {
    const { revoke } = await import('./token.js');
    io.err(`Revoked token ${await revoke(idOrToken, options)}.\n`);
  });

program
  .command('export')
  .description('write a consistent snapshot of every key (bytes, content types, expiry, locks) while the server runs')
  .option('-c, --config <file>', 'config file (default: $LUCID_CONFIG or ./lucid.yml)')
  .option('--prefix <prefix>', 'only keys starting with this')
  .option('-o, --out <file>', 'write to this file (mode 0600) instead of stdout')
  .option('-z, --gzip', 'gzip the output (the default when --out ends in .gz)')
  .action(async (options) => (await import('./backup.js')).exportCommand(options, io.err));

program
  .command('import')
  .description('restore an export (plain or gzipped) into the store; for SQLite, stop the server first')
  .argument('<file>', 'the export to read')
  .option('-c, --config <file>', 'config file (default: $LUCID_CONFIG or ./lucid.yml)')
  .option('--skip-existing', 'leave keys that already exist as they are (default: replace them)')
  .action(async (file: string, options) => (await import('./backup.js')).importCommand(file, options, io.err));

program
  .command('rekey')
  .description('re-encrypt every value with a new key (or encrypt an unencrypted store); stop the server first')
  .option('-c, --config <file>', 'config file (default: $LUCID_CONFIG or ./lucid.yml)')
  .option('--new-key <key>', 'the new key, base64 of 32 bytes (default: generate one)')
  .action(async (options) => (await import('./rekey.js')).rekeyCommand(options, io));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help/version text).
    process.exit(error.exitCode);
  }
  process.stderr.write(`lucid: ${(error as Error).message}\n`);
  process.exit(1);
}
