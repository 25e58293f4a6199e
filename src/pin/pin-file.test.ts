/**
 * `pinFile` on real-world-shaped deployment files (test/fixtures/pin): each fixture's pinned
 * output must equal its `.pinned` twin byte for byte. The twins were written by editing only the
 * reference lines of the originals (and adding `digest:` lines), so comments, quoting, blank lines
 * and every other line must come out exactly as they went in.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../core/index.js';
import { pinFile, type PinTargets } from './index.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../test/fixtures/pin/${name}`, import.meta.url), 'utf8');

const WEB = 'sha256:4315c8fd5a82533f56a83922bc1d5a2cff2b1f1e76117f66673abbcffd6c9fff' as Digest;
const API = 'sha256:87c9c8ffa0c78f2fda594e64737f8a2b61745474f69dd0434eedc712727a1b0e' as Digest;
const API_OLD = 'sha256:e4dbfe368633a85a28fdd882b1245ba3267b365a8708c612be744d0de627cd0c';
const HOST = 'prod.registry.example.com/team-a';

/** prod runs web 1.4.2 and api 2.1.0; the worker has not reached it. */
const PROD: PinTargets = new Map([
  [`${HOST}/web`, { digest: WEB, tags: ['1.4.2', 'latest', 'prod'], application: 'web' }],
  [`${HOST}/api`, { digest: API, tags: ['2.1.0', 'latest', 'prod'], application: 'api' }],
  [`${HOST}/worker`, { tags: [], application: 'worker' }],
]);

interface Case {
  readonly file: string;
  readonly pinned: string;
  /** `line: from → to` for every change. */
  readonly changes: readonly string[];
  readonly references: number;
  readonly unpinned?: readonly string[];
}

const cases: readonly Case[] = [
  {
    file: 'k8s/shop.yaml',
    pinned: 'k8s/shop.pinned.yaml',
    references: 4,
    changes: [
      `38 spec.template.spec.initContainers[0].image: ${HOST}/web:1.4.1 → ${HOST}/web:1.4.2@${WEB}`,
      `45 spec.template.spec.containers[0].image: ${HOST}/web:1.4.1 → ${HOST}/web:1.4.2@${WEB}`,
      `100 spec.jobTemplate.spec.template.spec.containers[0].image: ${HOST}/api:2.0.0@${API_OLD} → ${HOST}/api:2.1.0@${API}`,
    ],
  },
  {
    file: 'kustomize/kustomization.yaml',
    pinned: 'kustomize/kustomization.pinned.yaml',
    references: 2,
    changes: [
      `13 images[0]: ${HOST}/web:1.4.1 → ${HOST}/web:1.4.2@${WEB}`,
      `15 images[1]: ${HOST}/api:2.0.0@${API_OLD} → ${HOST}/api:2.1.0@${API}`,
    ],
  },
  {
    file: 'helm/values-bitnami.yaml',
    pinned: 'helm/values-bitnami.pinned.yaml',
    references: 2,
    changes: [
      `40 image: ${HOST}/web:1.4.1 → ${HOST}/web:1.4.2@${WEB}`,
      `64 worker.image: ${HOST}/api:2.0.0 → ${HOST}/api:2.1.0@${API}`,
    ],
  },
  {
    file: 'helm/values.yaml',
    pinned: 'helm/values.pinned.yaml',
    references: 3,
    changes: [`10 image: ${HOST}/web:1.4.1 → ${HOST}/web:1.4.2@${WEB}`],
    unpinned: [`30 worker.image: ${HOST}/worker:0.9.0`],
  },
  ...['task-definition.json', 'task-definition.4-space.json'].map((file) => ({
    file: `ecs/${file}`,
    pinned: `ecs/${file.replace('task-definition', 'task-definition.pinned')}`,
    references: 2,
    changes: [
      `9 containerDefinitions[0].image: ${HOST}/web:1.4.1 → ${HOST}/web:1.4.2@${WEB}`,
      `26 containerDefinitions[1].image: ${HOST}/api:2.0.0@${API_OLD} → ${HOST}/api:2.1.0@${API}`,
    ],
  })),
];

describe('pinFile on real-world files', () => {
  it.each(cases)('$file', (c) => {
    const text = fixture(c.file);
    const result = pinFile({ text, name: c.file }, PROD);
    expect(result.text).toBe(fixture(c.pinned));
    expect(result.changes.map((x) => `${x.line} ${x.path}: ${x.from} → ${x.to}`)).toEqual(c.changes);
    expect(result.unpinned.map((x) => `${x.line} ${x.path}: ${x.reference}`)).toEqual(c.unpinned ?? []);
    expect(result.references).toBe(c.references);
  });

  it.each(cases)('$pinned is a fixed point: pinning again changes nothing', (c) => {
    const text = fixture(c.pinned);
    const result = pinFile({ text, name: c.pinned }, PROD);
    expect(result.text).toBe(text);
    expect(result.changes).toEqual([]);
    expect(result.references).toBe(c.references);
  });

  it('lists the applications pinned after the run (re-pinned or already pinned), not those it could not pin', () => {
    const fresh = pinFile({ text: fixture('k8s/shop.yaml'), name: 'shop.yaml' }, PROD);
    const again = pinFile({ text: fresh.text, name: 'shop.yaml' }, PROD);
    expect(again.changes).toEqual([]);
    for (const r of [fresh, again]) {
      expect([...r.pinned].sort()).toEqual([...new Set([...fresh.changes.map((c) => c.application)])].sort());
      for (const u of r.unpinned) expect(r.pinned).not.toContain(u.application);
    }
    expect(fresh.pinned.length).toBeGreaterThan(0);
  });

  it('reports the application and repository of each change', () => {
    const [change] = pinFile({ text: fixture('k8s/shop.yaml'), name: 'shop.yaml' }, PROD).changes;
    expect(change).toMatchObject({ application: 'web', repository: `${HOST}/web`, line: 38, column: 18 });
  });
});
