/** Pinning JSON: strings edited in place whatever the layout; errors with line and column. */
import { describe, expect, it } from 'vitest';
import { isGantryError, type Digest } from '../core/index.js';
import { formatOf, pinFile, type PinTargets } from './index.js';

const D = `sha256:${'c'.repeat(64)}` as Digest;
const R = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web';
const targets: PinTargets = new Map([[R, { digest: D, tags: ['3.1.0'] }]]);

describe('pinFile: JSON', () => {
  it.each([
    [
      'minified',
      `{"family":"web","containerDefinitions":[{"name":"web","image":"${R}:3.0.0","cpu":256}]}`,
      `{"family":"web","containerDefinitions":[{"name":"web","image":"${R}:3.1.0@${D}","cpu":256}]}`,
    ],
    [
      'tabs and CRLF',
      `{\r\n\t"containerDefinitions": [\r\n\t\t{\r\n\t\t\t"image": "${R}"\r\n\t\t}\r\n\t]\r\n}\r\n`,
      `{\r\n\t"containerDefinitions": [\r\n\t\t{\r\n\t\t\t"image": "${R}@${D}"\r\n\t\t}\r\n\t]\r\n}\r\n`,
    ],
    [
      'escaped slashes',
      `{ "containerDefinitions": [ { "image": "${R.replaceAll('/', '\\/')}:3.0.0" } ] }`,
      `{ "containerDefinitions": [ { "image": "${R}:3.1.0@${D}" } ] }`,
    ],
    [
      'a Kubernetes manifest as JSON',
      `{"kind":"Pod","spec":{"containers":[{"name":"web","image":"${R}:3.1.0"}]}}\n`,
      `{"kind":"Pod","spec":{"containers":[{"name":"web","image":"${R}:3.1.0@${D}"}]}}\n`,
    ],
  ])('%s', (_, input, output) => {
    const result = pinFile({ text: input, name: 'task.json' }, targets);
    expect(result.text).toBe(output);
    expect(result.changes).toHaveLength(1);
    expect(JSON.parse(result.text)).toBeTruthy();
  });

  it('adds no keys to JSON: an image map without a digest is left alone', () => {
    const text = `{ "image": { "repository": "${R}", "tag": "3.0.0" } }\n`;
    expect(pinFile({ text, name: 'values.json' }, targets)).toMatchObject({ text, references: 0 });
  });

  it.each([
    ['a trailing comma', '{\n  "family": "web",\n}\n', 'task.json:3:1: '],
    ['a missing colon', '{\n  "family" "web"\n}\n', 'task.json:2:12: '],
    ['a truncated file', '{\n  "family": "web"', 'task.json:2:'],
  ])('names file, line and column for %s', (_, text, where) => {
    let error: unknown;
    try {
      pinFile({ text, name: 'task.json' }, targets);
    } catch (err) {
      error = err;
    }
    expect(isGantryError(error, 'PIN_FILE_INVALID')).toBe(true);
    expect((error as Error).message.startsWith(where)).toBe(true);
    expect((error as Error).message).not.toMatch(/position|\n/);
  });

  it.each([
    ['task.json', '{}', 'json'],
    ['deploy.yaml', '{}', 'yaml'],
    ['values.YML', 'a: 1', 'yaml'],
    ['taskdef', '\n  {"a": 1}', 'json'],
    ['Kustomization', 'images: []', 'yaml'],
  ] as const)('formatOf(%s)', (name, text, format) => {
    expect(formatOf(name, text)).toBe(format);
  });
});
