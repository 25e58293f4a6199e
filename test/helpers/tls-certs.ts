/**
 * A throw-away certificate authority and a server certificate for 127.0.0.1 / localhost, made with
 * the `openssl` command (Debian package `openssl`). Keys are EC P-256, valid for two days.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './run-command.js';

/** Files (and the CA in memory) produced by {@link makeTestCertificates}. */
export interface TestCertificates {
  /** The CA certificate, PEM, to pass as `ca` to TLS clients. */
  caPem: string;
  /** Path of the CA certificate PEM file. */
  caFile: string;
  /** A directory holding only `ca.crt` (the CA), as Go tools want it (`skopeo --cert-dir`). */
  caDir: string;
  /** Path of the CA private key (PEM). */
  caKeyFile: string;
  /** Path of the server certificate (PEM), signed by the CA. */
  certFile: string;
  /** Path of the server private key (PEM, PKCS#8, unencrypted). */
  keyFile: string;
}

/**
 * Creates `ca.pem`, `ca.key`, `ca-dir/ca.crt`, `server.pem` and `server.key` in `dir`. The server certificate has
 * subjectAltName `IP:127.0.0.1, DNS:localhost` (plus any `extraSans`, e.g. `DNS:registry.test`) and
 * extendedKeyUsage serverAuth, so Node, undici, Go and skopeo all accept it when they trust the CA.
 */
export async function makeTestCertificates(
  dir: string,
  options: { extraSans?: readonly string[] } = {},
): Promise<TestCertificates> {
  const caFile = join(dir, 'ca.pem');
  const caKeyFile = join(dir, 'ca.key');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  const csrFile = join(dir, 'server.csr');
  const extFile = join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await runCommand('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKeyFile,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    '/CN=Gantry Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await runCommand('openssl', ['req', ...ec, '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=127.0.0.1']);
  const sans = ['IP:127.0.0.1', 'DNS:localhost', ...(options.extraSans ?? [])].join(',');
  await writeFile(
    extFile,
    [
      `subjectAltName=${sans}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await runCommand('openssl', [
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    caFile,
    '-CAkey',
    caKeyFile,
    '-CAcreateserial',
    '-out',
    certFile,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    extFile,
  ]);
  const caDir = join(dir, 'ca-dir');
  await mkdir(caDir, { recursive: true });
  await copyFile(caFile, join(caDir, 'ca.crt'));
  return { caPem: await readFile(caFile, 'utf8'), caFile, caDir, caKeyFile, certFile, keyFile };
}
