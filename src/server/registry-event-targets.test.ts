import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/index.js';
import { targetsOf } from './registry-event-targets.js';

const { config } = parseConfig(
  '/etc/gantry/gantry.yaml',
  `registries:
  dev: { url: "http://Registry.Example.com:5000" }
  prod: { url: "https://prod.example.com" }
  hub: { url: "https://index.docker.io" }
environments:
  dev: { registry: dev, prefix: dev }
  staging: { registry: dev, prefix: staging, from: [dev] }
  uat: { registry: dev, prefix: staging, mode: tag, tag: uat, from: [staging] }
  prod: { registry: prod, from: [uat] }
  mirror: { registry: hub, prefix: team }
applications:
  - web
  - { name: api, repository: backend/api }
`,
);

describe('targetsOf', () => {
  it.each([
    ['registry.example.com:5000', 'dev/web', [{ environment: 'dev', app: 'web' }]],
    ['REGISTRY.example.com:5000', '/dev/backend/api/', [{ environment: 'dev', app: 'api' }]],
    // mode: tag environments share their source's repository and get images only by promotion
    ['registry.example.com:5000', 'staging/web', [{ environment: 'staging', app: 'web' }]],
    ['prod.example.com:443', 'web', [{ environment: 'prod', app: 'web' }]],
    ['https://prod.example.com', 'backend/api', [{ environment: 'prod', app: 'api' }]],
    ['registry-1.docker.io', 'team/web', [{ environment: 'mirror', app: 'web' }]],
    ['registry.example.com', 'dev/web', []],
    ['registry.example.com:5000', 'dev/other', []],
    ['registry.example.com:5000', 'dev', []],
    ['evil.example.com', 'web', []],
  ])('%s/%s belongs to %j', (host, repository, expected) => {
    if (!config) throw new Error('config');
    expect(targetsOf(config, host, repository)).toEqual(expected);
  });
});
