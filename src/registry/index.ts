/** Public surface of the registry layer. */
export * from './reference.js';
export * from './manifest.js';
export { RegistryClient, type RegistryClientOptions } from './client.js';
export type { ReferrerLock } from './session.js';
export type { ManifestHeadResult, ManifestPutResult } from './manifests.js';
export type { TagListResult } from './tags.js';
export type { CatalogResult } from './catalog.js';
export type { BlobSource, BlobUploadOptions, BlobGetOptions, MountResult } from './blobs.js';
export { referrersTag, type ReferrersResult, type ReferrersSource } from './referrers.js';
export { HttpTransport, type HostSettings, type TransportOptions } from './transport/http-transport.js';
export type { RetryOptions } from './transport/retry-policy.js';
export { redactUrl } from './transport/redact.js';
export { RegistryError, isTemporary } from './transport/registry-error.js';
export * from './credentials/index.js';
