/** A self-signed certificate for tests that serve HTTPS. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';

/**
 * Writes `cert.pem` and `key.pem` (0600) into `dir`: an ECDSA certificate for `localhost` and
 * 127.0.0.1. Returns the certificate, for clients to trust.
 */
export async function writeTestCertificate(dir: string): Promise<string> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  writeFileSync(path.join(dir, 'cert.pem'), pems.cert);
  writeFileSync(path.join(dir, 'key.pem'), pems.private, { mode: 0o600 });
  return pems.cert;
}
