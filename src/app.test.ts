import { describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { parseConfig } from './config/index.js';

const config = (dev: string, prod: string) => `
registries:
  dev: { url: "${dev}" }
  prod: { url: "${prod}" }
environments:
  dev: { registry: dev, prefix: team }
  prod: { registry: prod, prefix: team, from: [dev] }
applications: [web]
`;

function app(text: string) {
  const { config: c, problems } = parseConfig('gantry.yaml', text);
  expect(problems).toEqual([]);
  return createApp({ config: c!, env: {}, authFile: '/nonexistent/auth.json', actor: 'test' });
}

describe('createApp', () => {
  it('refuses an https:// and an http:// registry on the same host:port (one would use the other scheme)', () => {
    expect(() => app(config('https://reg.example.com:5000', 'http://reg.example.com:5000'))).toThrowError(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('reg.example.com:5000 is also registry "dev"'),
      }),
    );
    expect(() => app(config('http://reg.example.com:5000', 'https://reg.example.com:5000'))).toThrowError(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('accepts two names for one registry with the same settings', async () => {
    const a = app(config('https://reg.example.com:5000', 'https://reg.example.com:5000'));
    await a.close();
  });
});
