/**
 * `gantry copy SRC DST` and `gantry copy --all-tags SRC_REPO DST_REPO`: byte-exact copies between
 * registries and OCI layouts, with referrers, mounts, bounded concurrency and progress.
 */
import { GantryError, escapeControl } from '../../core/index.js';
import {
  Scheduler,
  copyImage,
  copyRepository,
  formatPlatform,
  parsePlatform,
  type CopyRepositoryResult,
  type CopyResult,
} from '../../app.js';
import { endpointHost, endpointTarget, formatEndpoint, parseEndpoint, type Endpoint } from '../endpoint.js';
import { printJson, printLines } from '../output.js';
import { createProgress, formatBytes, progressMode } from '../progress.js';
import { createClient, type RegistryFlags } from '../registry-options.js';

/** Options of `gantry copy`. */
export interface CopyCommandOptions {
  readonly authfile?: string;
  readonly srcCreds?: string;
  readonly destCreds?: string;
  readonly srcTlsVerify?: boolean;
  readonly destTlsVerify?: boolean;
  readonly tlsVerify?: boolean;
  readonly srcCertDir?: string;
  readonly destCertDir?: string;
  readonly allTags?: boolean;
  readonly keepGoing?: boolean;
  readonly platform?: string[];
  readonly includeForeign?: boolean;
  readonly referrers?: boolean;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly quiet?: boolean;
  readonly concurrency?: string;
  readonly perHost?: string;
  readonly imageConcurrency?: string;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new GantryError('USAGE_INVALID', `--${name} must be an integer from 1 to 256, got "${value}"`);
  return n;
}

function sideFlags(
  tlsVerify: boolean | undefined,
  creds: string | undefined,
  certDir: string | undefined,
  all: boolean | undefined,
): RegistryFlags {
  const verify = tlsVerify ?? all;
  return {
    ...(verify !== undefined && { tlsVerify: verify }),
    ...(creds && { creds }),
    ...(certDir && { certDir }),
  };
}

/** Runs `gantry copy`. */
export async function copy(srcText: string, dstText: string, options: CopyCommandOptions): Promise<number> {
  const src = parseEndpoint(srcText, options.allTags === true);
  const dst = parseEndpoint(dstText, options.allTags === true);
  const platforms = (options.platform ?? [])
    .flatMap((p) => p.split(','))
    .filter(Boolean)
    .map(parsePlatform);
  // One client per side: when both sides are on the same host:port, each still keeps its own
  // TLS settings and credentials (a shared host-settings table would let one side's flags win).
  const srcClient = createClient(options.authfile, [
    {
      hosts: hostList(src),
      flags: sideFlags(options.srcTlsVerify, options.srcCreds, options.srcCertDir, options.tlsVerify),
    },
  ]);
  const dstClient = createClient(options.authfile, [
    {
      hosts: hostList(dst),
      flags: sideFlags(options.destTlsVerify, options.destCreds, options.destCertDir, options.tlsVerify),
    },
  ]);
  const scheduler = new Scheduler({
    concurrency: positive('concurrency', options.concurrency, 8),
    perHost: positive('per-host', options.perHost, 6),
  });
  const progress = await createProgress(progressMode(options));
  try {
    const common = {
      scheduler,
      ...(platforms.length > 0 && { platforms }),
      referrers: options.referrers !== false,
      includeForeign: options.includeForeign === true,
      dryRun: options.dryRun === true,
      ...(progress.listener && { onEvent: progress.listener }),
    };
    if (options.allTags) {
      const result = await copyRepository(endpointTarget(src, srcClient), endpointTarget(dst, dstClient), {
        ...common,
        keepGoing: options.keepGoing === true,
        imageConcurrency: positive('image-concurrency', options.imageConcurrency, 8),
      });
      progress.stop();
      reportRepository(result, options);
      return result.failed.length > 0 ? 1 : 0;
    }
    const reference = src.kind === 'registry' ? (src.digest ?? src.tag ?? 'latest') : (src.tag ?? undefined);
    if (reference === undefined) {
      throw new GantryError('USAGE_INVALID', `source ${srcText} needs a tag (oci:PATH:TAG)`);
    }
    const tag =
      dst.tag ??
      (dst.kind === 'registry' && dst.digest
        ? undefined
        : src.kind === 'registry' && src.digest
          ? undefined
          : (src.tag ?? 'latest'));
    const result = await copyImage(
      endpointTarget(src, srcClient),
      reference,
      endpointTarget(dst, dstClient),
      {
        ...common,
        ...(tag !== undefined && { tags: [tag] }),
      },
    );
    progress.stop();
    if (dst.kind === 'registry' && dst.digest && dst.digest !== result.digest) {
      throw new GantryError(
        'REGISTRY_DIGEST_MISMATCH',
        `the copy produced ${result.digest}, not the requested ${dst.digest}`,
      );
    }
    reportImage(
      result,
      options,
      platforms.length > 0 ? platforms.map(formatPlatform).join(', ') : undefined,
      formatEndpoint(tag !== undefined ? { ...dst, tag } : dst),
    );
    return 0;
  } finally {
    progress.stop();
    await Promise.all([srcClient.close(), dstClient.close()]);
  }
}

function hostList(e: Endpoint): string[] {
  const h = endpointHost(e);
  return h ? [h] : [];
}

function reportImage(
  r: CopyResult,
  options: CopyCommandOptions,
  platforms: string | undefined,
  dst: string,
): void {
  if (options.json) {
    printJson(r);
    return;
  }
  const lines: string[] = [];
  if (r.dryRun) {
    lines.push(`Plan: ${r.source} → ${r.destination} (${r.digest})`);
    for (const step of r.plan ?? [])
      lines.push(`  ${step.action.padEnd(5)} ${step.digest}  ${formatBytes(step.size)}`);
    lines.push(
      `Would copy ${r.blobs.copied} blobs (${formatBytes(r.bytesPlanned)}), mount ${r.blobs.mounted}, skip ${r.blobs.skipped}${r.blobs.foreign ? `, leave ${r.blobs.foreign} foreign` : ''}.`,
    );
  } else if (r.alreadyComplete) {
    lines.push(`Already up to date: ${dst} is ${r.digest}`);
  } else {
    lines.push(
      `Copied ${dst} ${r.digest}: ${r.blobs.copied} blobs copied (${formatBytes(r.bytesTransferred)}), ${r.blobs.mounted} mounted, ${r.blobs.skipped} already present, ${r.referrers.copied} referrers, in ${(r.durationMs / 1000).toFixed(1)}s`,
    );
  }
  if (r.platformNarrowed) {
    lines.push(
      `Note: --platform ${platforms ?? ''} selected part of ${r.sourceDigest}; the result is a new digest ${r.digest}.`,
    );
  }
  printLines(...lines);
}

function reportRepository(r: CopyRepositoryResult, options: CopyCommandOptions): void {
  if (options.json) {
    printJson(r);
    return;
  }
  const complete = r.copied.filter((c) => c.alreadyComplete).length;
  const lines = [
    `Copied ${r.copied.length - complete} of ${r.tags} tags from ${r.source} to ${r.destination} (${formatBytes(r.bytesTransferred)}), ${complete} already up to date, ${r.failed.length} failed, in ${(r.durationMs / 1000).toFixed(1)}s`,
  ];
  for (const f of r.failed) lines.push(`  failed ${f.tag}: ${escapeControl(f.message)} [${f.code}]`);
  if (r.skipped.length > 0) {
    lines.push(
      `Skipped ${r.skipped.length} source tag-list ${r.skipped.length === 1 ? 'entry' : 'entries'} that ${r.skipped.length === 1 ? 'is not a valid tag name' : 'are not valid tag names'}:`,
    );
    for (const s of r.skipped.slice(0, 20)) lines.push(`  skipped "${s.tag}": ${s.reason}`);
    if (r.skipped.length > 20) lines.push(`  … and ${r.skipped.length - 20} more (see --json)`);
  }
  printLines(...lines);
}
