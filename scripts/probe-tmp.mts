import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeImage, pushImage, startGantryServer, startRegistry, startFaultProxy } from '../test/helpers/index.js';
const B = `gty_${'b'.repeat(64)}`;
const dev = await startRegistry(); const prod = await startRegistry();
const pd = await startFaultProxy({ target: dev.url }); const pp = await startFaultProxy({ target: prod.url });
const dir = await mkdtemp(join(tmpdir(), 'probe-'));
await writeFile(join(dir, 'g.yaml'), `registries:\n  dev: { url: "${pd.url}" }\n  prod: { url: "${pp.url}" }\nenvironments:\n  dev: { registry: dev, prefix: dev }\n  prod: { registry: prod, prefix: prod, from: [dev], tags: { floating: [current] } }\napplications: [a1, a2]\n`);
for (const a of ['a1','a2']) await pushImage(dev, `dev/${a}`, makeImage({ seed: a, labels: { 'org.opencontainers.image.version': '1.0.0' } }), '1.0.0');
const s = await startGantryServer({ config: join(dir, 'g.yaml'), dataDir: join(dir, 'd'), bootstrapToken: B, env: { GANTRY_LOG_LEVEL: 'warn' } });
const h = { authorization: `Bearer ${B}`, 'content-type': 'application/json' };
for (const a of ['a1','a2']) {
  const n0 = pd.requests.length, m0 = pp.requests.length;
  const r = await fetch(`${s.url}/api/v1/promotions`, { method: 'POST', headers: h, body: JSON.stringify({ app: a, version: '1.0.0', to: 'prod' }) });
  const v = (await r.json()) as { id: string };
  const n1 = pd.requests.length, m1 = pp.requests.length;
  let state = '';
  while (!['completed', 'failed'].includes(state)) { await new Promise((r) => setTimeout(r, 50)); state = ((await (await fetch(`${s.url}/api/v1/promotions/${v.id}`, { headers: h })).json()) as { state: string }).state; }
  console.log(a, state, `plan: dev ${n1-n0} prod ${m1-m0}; run: dev ${pd.requests.length-n1} prod ${pp.requests.length-m1}`);
  if (a === 'a2') for (const q of [...pd.requests.slice(n0), ...pp.requests.slice(m0)]) console.log(q.method, q.url.replace(/sha256:[0-9a-f]{64}/g,'sha256:…').replace(/sha256-[0-9a-f]{64}/g,'sha256-…').replace(/\?.*/,''), q.status);
}
await s.stop(); await dev.stop(); await prod.stop(); await pd.stop(); await pp.stop();
