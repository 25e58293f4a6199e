import { describe, expect, it } from 'vitest';
import { MediaTypes, digestOf } from '../core/index.js';
import { parseManifest } from './manifest.js';

const d = (s: string) => digestOf(s);
const image = {
  schemaVersion: 2,
  mediaType: MediaTypes.ociManifest,
  config: { mediaType: MediaTypes.ociConfig, digest: d('c'), size: 1 },
  layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: d('l'), size: 1 }],
};
const index = {
  schemaVersion: 2,
  mediaType: MediaTypes.ociIndex,
  manifests: [{ mediaType: MediaTypes.ociManifest, digest: d('m'), size: 3 }],
};

function parse(body: unknown, contentType?: string) {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return parseManifest(bytes, digestOf(bytes), contentType);
}

describe('parseManifest', () => {
  it.each([
    [image, MediaTypes.ociManifest, 'image', MediaTypes.ociManifest],
    [index, MediaTypes.ociIndex, 'index', MediaTypes.ociIndex],
    [{ ...image, mediaType: undefined }, undefined, 'image', MediaTypes.ociManifest],
    [{ ...index, mediaType: undefined }, 'application/json', 'index', MediaTypes.ociIndex],
    [
      { ...image, mediaType: MediaTypes.dockerManifest },
      MediaTypes.dockerManifest,
      'image',
      MediaTypes.dockerManifest,
    ],
  ])('recognises %#', (body, contentType, kind, mediaType) => {
    const m = parse(body, contentType);
    expect(m.kind).toBe(kind);
    expect(m.mediaType).toBe(mediaType);
  });

  it.each([
    ['{', 'REGISTRY_MANIFEST_INVALID', 'not valid JSON'],
    ['[]', 'REGISTRY_MANIFEST_INVALID', 'not a JSON object'],
    [{ schemaVersion: 1, name: 'x', fsLayers: [] }, 'REGISTRY_MANIFEST_SCHEMA1', 'schema 1'],
    [
      { ...image, layers: [{ mediaType: 'x', digest: 'sha256:nope', size: 1 }] },
      'REGISTRY_MANIFEST_INVALID',
      'layers.0.digest',
    ],
    [{ ...image, config: undefined }, 'REGISTRY_MANIFEST_INVALID', 'config'],
    [{ ...image, mediaType: MediaTypes.ociIndex }, 'REGISTRY_MANIFEST_INVALID', 'served as'],
  ])('refuses %#', (body, code, message) => {
    const contentType =
      typeof body === 'object' && 'mediaType' in body && body.mediaType === MediaTypes.ociIndex
        ? MediaTypes.ociManifest
        : undefined;
    expect(() => parse(body, contentType)).toThrowError(expect.objectContaining({ code }));
    expect(() => parse(body, contentType)).toThrow(message);
  });

  it('refuses a schema 1 content type', () => {
    expect(() => parse(image, MediaTypes.dockerSchema1Signed)).toThrowError(
      expect.objectContaining({ code: 'REGISTRY_MANIFEST_SCHEMA1' }),
    );
  });
});
