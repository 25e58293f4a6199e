/** Pinning YAML: quoting styles, shapes and edge cases, each as input → exact output. */
import { describe, expect, it } from 'vitest';
import { isGantryError, type Digest } from '../core/index.js';
import { pinFile, type PinTargets } from './index.js';

const D = `sha256:${'a'.repeat(64)}` as Digest;
const OLD = `sha256:${'b'.repeat(64)}`;
const R = 'registry.example.com/team/web';

const targets = (extra: Partial<{ digest: Digest; tags: string[] }> = {}): PinTargets =>
  new Map([
    [R, { digest: D, tags: ['1.2.0', 'prod'], application: 'web', ...extra }],
    ['registry.example.com/team/worker', { application: 'worker' }],
    ['index.docker.io/library/nginx', { digest: D, application: 'nginx' }],
  ]);

const pod = (image: string): string =>
  `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: web\n      image: ${image}\n`;

interface Case {
  readonly name: string;
  readonly input: string;
  /** Expected output; undefined: unchanged. */
  readonly output?: string;
  readonly targets?: PinTargets;
  readonly references?: number;
  readonly unpinned?: number;
}

const cases: readonly Case[] = [
  {
    name: 'plain, tag kept when it names the digest',
    input: pod(`${R}:prod`),
    output: pod(`${R}:prod@${D}`),
  },
  {
    name: 'a stale version tag follows the digest',
    input: pod(`${R}:1.1.0`),
    output: pod(`${R}:1.2.0@${D}`),
  },
  {
    name: 'tags as written when the environment names none',
    input: pod(`${R}:1.1.0`),
    output: pod(`${R}:1.1.0@${D}`),
    targets: targets({ tags: [] }),
  },
  { name: 'no tag: digest only', input: pod(R), output: pod(`${R}@${D}`) },
  { name: 'double quotes kept', input: pod(`"${R}:prod"`), output: pod(`"${R}:prod@${D}"`) },
  {
    name: 'another digest is replaced',
    input: pod(`'${R}:1.2.0@${OLD}' # pinned`),
    output: pod(`'${R}:1.2.0@${D}' # pinned`),
  },
  { name: 'already pinned: untouched', input: pod(`${R}:1.0.0@${D}`), references: 1 },
  { name: 'other registry: untouched', input: pod('other.example.com/team/web:1.2.0'), references: 0 },
  { name: 'Docker Hub names are normalised', input: pod('nginx:1.25'), output: pod(`nginx:1.25@${D}`) },
  { name: 'not an image reference: untouched', input: pod('"{{ .Values.image }}"'), references: 0 },
  { name: 'not running there: unpinned', input: pod(`${R.replace('web', 'worker')}:1.0`), unpinned: 1 },
  {
    name: 'block scalar',
    input: `kind: Pod\nspec:\n  containers:\n    - image: >-\n        ${R}:1.2.0\n      name: web\n`,
    output: `kind: Pod\nspec:\n  containers:\n    - image: "${R}:1.2.0@${D}"\n      name: web\n`,
  },
  {
    name: 'an anchored image used through an alias is edited once',
    input: `kind: Pod\nspec:\n  initContainers:\n    - image: &img ${R}:1.2.0\n  containers:\n    - image: *img\n`,
    output: `kind: Pod\nspec:\n  initContainers:\n    - image: &img ${R}:1.2.0@${D}\n  containers:\n    - image: *img\n`,
    references: 1,
  },
  {
    name: 'image keys outside container lists are not touched',
    input: `services:\n  web:\n    image: ${R}:1.2.0\nannotations:\n  image: ${R}:1.2.0\n`,
    references: 0,
  },
  {
    name: 'List of Deployments in kubectl style (unindented sequences), CRLF',
    input: `kind: List\r\nitems:\r\n- kind: Deployment\r\n  spec:\r\n    template:\r\n      spec:\r\n        containers:\r\n        - name: web\r\n          image: ${R}:1.2.0\r\n`,
    output: `kind: List\r\nitems:\r\n- kind: Deployment\r\n  spec:\r\n    template:\r\n      spec:\r\n        containers:\r\n        - name: web\r\n          image: ${R}:1.2.0@${D}\r\n`,
  },
  {
    name: 'ephemeral containers',
    input: `kind: Pod\nspec:\n  ephemeralContainers:\n    - image: ${R}\n`,
    output: `kind: Pod\nspec:\n  ephemeralContainers:\n    - image: ${R}@${D}\n`,
  },
  // kustomize
  {
    name: 'kustomization without apiVersion and kind, last line without a line break',
    input: `resources: [deploy.yaml]\nimages:\n  - name: web\n    newName: ${R}`,
    output: `resources: [deploy.yaml]\nimages:\n  - name: web\n    newName: ${R}\n    digest: ${D}`,
  },
  {
    name: 'kustomization entry by name only, with a comment after newTag',
    input: `kind: Kustomization\nimages:\n- name: ${R}\n  newTag: prod # moved by CI\n- name: busybox\n`,
    output: `kind: Kustomization\nimages:\n- name: ${R}\n  newTag: prod # moved by CI\n  digest: ${D}\n- name: busybox\n`,
  },
  {
    name: 'kustomize Component, flow entry',
    input: `kind: Component\nimages: [{ name: ${R}, newTag: '1.2.0' }]\n`,
    output: `kind: Component\nimages: [{ name: ${R}, newTag: '1.2.0', digest: '${D}' }]\n`,
  },
  {
    name: 'images: of another kind is not a kustomization',
    input: `kind: ImageList\nimages:\n  - name: ${R}\n    newTag: 1.2.0\n`,
    references: 0,
  },
  // Helm values
  {
    name: 'Helm: empty digest value',
    input: `image:\n  repository: ${R}\n  tag: prod\n  digest:\n  pullPolicy: Always\n`,
    output: `image:\n  repository: ${R}\n  tag: prod\n  digest: ${D}\n  pullPolicy: Always\n`,
  },
  {
    name: 'Helm: null digest, double-quoted tag',
    input: `image:\n  repository: ${R}\n  tag: "prod"\n  digest: ~\n`,
    output: `image:\n  repository: ${R}\n  tag: "prod"\n  digest: ${D}\n`,
  },
  {
    name: 'Helm: a tag YAML reads as a number stays a string',
    input: `image:\n  repository: ${R}\n  tag: 1.10\n`,
    output: `image:\n  repository: ${R}\n  tag: '2.0'\n  digest: ${D}\n`,
    targets: targets({ tags: ['2.0'] }),
  },
  {
    name: 'Helm: flow map with registry',
    input: `web:\n  image: { registry: registry.example.com, repository: team/web, tag: prod }\n`,
    output: `web:\n  image: { registry: registry.example.com, repository: team/web, tag: prod, digest: ${D} }\n`,
  },
  {
    name: 'Helm: empty registry (Bitnami default) and a digest key without a tag key',
    input: `image:\n  registry: ''\n  repository: ${R}\n  digest: ''\n`,
    output: `image:\n  registry: ''\n  repository: ${R}\n  digest: '${D}'\n`,
  },
  {
    name: 'Helm: repository without tag or digest is not an image map',
    input: `chart:\n  repository: ${R}\n  version: 1.0.0\n`,
    references: 0,
  },
  { name: 'empty file', input: '', references: 0 },
  { name: 'comments only', input: '# nothing here\n', references: 0 },
];

describe('pinFile: YAML', () => {
  it.each(cases)('$name', (c) => {
    const result = pinFile({ text: c.input, name: 'deploy.yaml' }, c.targets ?? targets());
    expect(result.text).toBe(c.output ?? c.input);
    expect(result.changes.length).toBe(c.output === undefined ? 0 : 1);
    expect(result.references).toBe(c.references ?? (c.output === undefined ? (c.unpinned ?? 0) : 1));
    expect(result.unpinned.length).toBe(c.unpinned ?? 0);
  });

  it('pins every document of a multi-document file and reports lines in the input', () => {
    const text = `${pod(`${R}:1.2.0`)}---\n# second\n${pod(`${R}:prod`)}`;
    const result = pinFile({ text, name: 'all.yaml' }, targets());
    expect(result.changes.map((c) => [c.line, c.column, c.path])).toEqual([
      [6, 14, 'spec.containers[0].image'],
      [14, 14, 'spec.containers[0].image'],
    ]);
  });

  it.each([
    ['an unclosed flow sequence', 'a: 1\nb: [x, y\nc: 2\n', 'deploy.yaml:3:'],
    ['a duplicate key', 'kind: Pod\nkind: Job\n', 'deploy.yaml:2:1: '],
    ['a tab as indentation', 'spec:\n\tcontainers: []\n', 'deploy.yaml:2:'],
    ['an error in a later document', 'a: 1\n---\nb: : c\n', 'deploy.yaml:3:'],
  ])('names file and line for %s', (_, text, where) => {
    let error: unknown;
    try {
      pinFile({ text, name: 'deploy.yaml' }, targets());
    } catch (err) {
      error = err;
    }
    expect(isGantryError(error, 'PIN_FILE_INVALID')).toBe(true);
    const message = (error as Error).message;
    expect(message.startsWith(where)).toBe(true);
    expect(message).not.toContain('\n');
  });
});
