/**
 * `gantry serve` runs on the Node.js that runs the tests (issue 15, "Runtimes"): the servers the
 * end-to-end tests start are spawned with `process.execPath`, so `npm run test:runtimes` (which
 * runs this file under Node 22 and 24, with GANTRY_EXPECT_NODE set) proves the server itself ran
 * on each line, not only the test runner. The version comes from the server's own metrics.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGantryServer, type GantryServerProcess } from '../helpers/index.js';

const BOOTSTRAP = `gty_${'5'.repeat(64)}`;

describe('gantry serve runs on the test process’s Node.js', () => {
  let dir = '';
  let server: GantryServerProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-node-version-'));
    const config = join(dir, 'gantry.yaml');
    await writeFile(
      config,
      `registries:
  dev: { url: "http://127.0.0.1:9" }
environments:
  dev: { registry: dev, prefix: dev }
applications: [web]
`,
    );
    server = await startGantryServer({ config, dataDir: join(dir, 'data'), bootstrapToken: BOOTSTRAP });
  });

  afterAll(async () => {
    await server?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('reports process.version in gantry_nodejs_version_info', async () => {
    const res = await fetch(`${(server as GantryServerProcess).url}/metrics`, {
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const version = /^gantry_nodejs_version_info\{version="([^"]+)"/m.exec(text)?.[1];
    expect(version).toBe(process.version);
    const expected = process.env.GANTRY_EXPECT_NODE;
    if (expected !== undefined && expected !== '') expect(process.version).toBe(expected);
  });
});
