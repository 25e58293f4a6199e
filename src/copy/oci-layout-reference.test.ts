import { describe, expect, it } from 'vitest';
import { isGantryError } from '../core/index.js';
import {
  formatOciLayoutReference,
  isOciLayoutReference,
  parseOciLayoutReference,
} from './oci-layout-reference.js';

describe('parseOciLayoutReference', () => {
  it.each([
    ['oci:/tmp/x', { path: '/tmp/x' }],
    ['oci:/tmp/x:v1', { path: '/tmp/x', tag: 'v1' }],
    ['oci:relative/dir:1.4.2-rc_1', { path: 'relative/dir', tag: '1.4.2-rc_1' }],
    ['oci:./x', { path: './x' }],
    ['oci:/dir with space:latest', { path: '/dir with space', tag: 'latest' }],
    [`oci:/tmp/x:${'a'.repeat(128)}`, { path: '/tmp/x', tag: 'a'.repeat(128) }],
  ])('parses %s', (text, expected) => {
    const ref = parseOciLayoutReference(text);
    expect(ref).toEqual(expected);
    expect(formatOciLayoutReference(ref)).toBe(text);
  });

  it.each([
    ['oci:', /empty path/],
    ['oci::v1', /empty path/],
    ['oci:/tmp/x:Bad Tag', /invalid tag "Bad Tag"/],
    ['oci:/tmp/x:', /empty tag/],
    // Split at the first ":": the rest is the tag, and a tag cannot hold ":" or "/".
    ['oci:/tmp/x:v1:extra', /invalid tag "v1:extra"/],
    ['oci:/tmp/x:sha256:' + 'a'.repeat(64), /invalid tag/],
    ['oci:/tmp/x:.hidden', /invalid tag/],
    [`oci:/tmp/x:${'a'.repeat(129)}`, /invalid tag/],
    ['docker://host/repo:tag', /expected oci:PATH\[:TAG\]/],
    ['/tmp/x', /expected oci:PATH\[:TAG\]/],
  ])('refuses %s with USAGE_INVALID', (text, message) => {
    let caught: unknown;
    try {
      parseOciLayoutReference(text);
    } catch (err) {
      caught = err;
    }
    expect(isGantryError(caught, 'USAGE_INVALID')).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('isOciLayoutReference', () => {
  it.each([
    ['oci:/tmp/x', true],
    ['oci:', true],
    ['oci-archive:/tmp/x.tar', false],
    ['docker://host/repo', false],
    ['host/repo:tag', false],
    ['OCI:/tmp/x', false],
  ])('%s → %s', (text, expected) => {
    expect(isOciLayoutReference(text)).toBe(expected);
  });
});
