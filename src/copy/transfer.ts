/**
 * Moving one blob: skip it when the destination has it, mount it when source and destination
 * share a registry, otherwise stream it GET → PUT with its digest verified on the way. A failed
 * transfer whose error is temporary (dropped connection, corrupted byte, 5xx: the error says so)
 * restarts the blob while attempts make progress, within the copy's {@link RetryBudget}; anything
 * else fails at once, saying which side failed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Transform, type Readable } from 'node:stream';
import { abortedError, isGantryError, raceAbort, throwIfAborted, unlessAborted } from '../core/index.js';
import { apiHost, canMount, isTemporary, type Descriptor } from '../registry/index.js';
import { copyError } from './copy-error.js';
import type { BlobAction, CopyListener } from './events.js';
import type { RetryBudget } from './retry-budget.js';
import type { Scheduler } from './scheduler.js';
import type { ReadTarget, WriteTarget } from './target.js';

/** What a transfer needs. */
export interface TransferContext {
  readonly source: ReadTarget;
  readonly destination: WriteTarget;
  readonly scheduler: Scheduler;
  /** Label of the image being copied, for events. */
  readonly image: string;
  /** When to restart a failed blob (shared by every blob of the copy). */
  readonly budget: RetryBudget;
  /**
   * The destination repository had no tags when the copy began, so small blobs are uploaded
   * without asking whether it has them (see {@link needsExistenceCheck}).
   */
  readonly newDestination?: boolean;
  readonly onEvent?: CopyListener;
  /** Stops the transfer: no attempt starts once it fired, and the wait for a slot ends. */
  readonly signal?: AbortSignal;
}

/** The hosts a transfer holds concurrency slots on. */
export function hostsOf(ctx: Pick<TransferContext, 'source' | 'destination'>): string[] {
  const hosts: string[] = [];
  if (ctx.source.repository) hosts.push(apiHost(ctx.source.repository.registry));
  if (ctx.destination.repository) hosts.push(apiHost(ctx.destination.repository.registry));
  return hosts;
}

/** Blobs up to this size go to a new destination repository without a HEAD first. */
export const SMALL_BLOB_BYTES = 256 * 1024;

/**
 * Whether to ask the destination for a blob before sending it. Not when the blob will be mounted
 * (a mount is one request either way, and answers 201 when the blob is already there), nor for a
 * small blob in a repository that had no tags when the copy began: it is almost never there, and
 * uploading it costs about what the question does. Anything else is asked first, so a re-run after
 * a failed copy of big layers transfers only what is missing.
 */
export function needsExistenceCheck(
  ctx: Pick<TransferContext, 'source' | 'destination' | 'newDestination'>,
  blob: Descriptor,
): boolean {
  if (mountable(ctx)) return false;
  return !(ctx.newDestination === true && blob.size <= SMALL_BLOB_BYTES);
}

/** True when source and destination are different repositories of one registry. */
export function mountable(ctx: Pick<TransferContext, 'source' | 'destination'>): boolean {
  return canMount(ctx.source.repository, ctx.destination.repository);
}

/**
 * Makes one blob present at the destination. A transfer of the same blob that another copy
 * started (and shares through the scheduler) may be aborted by that copy's signal: this copy,
 * not aborted itself, then starts its own.
 */
export async function transferBlob(ctx: TransferContext, blob: Descriptor): Promise<BlobAction> {
  const key = `${ctx.destination.name}|${blob.digest}`;
  const light = blob.size <= SMALL_BLOB_BYTES || mountable(ctx);
  const what = `blob ${blob.digest}`;
  // Failures of a run are reported as its starter's signal says (whoever shares the run).
  const run = () =>
    ctx.scheduler
      .run(hostsOf(ctx), () => attemptTransfer(ctx, blob), light, ctx.signal)
      .catch((err: unknown) => {
        throw unlessAborted(err, ctx.signal, what);
      });
  for (;;) {
    throwIfAborted(ctx.signal, what);
    try {
      // A run another copy started does not watch this copy's signal: stop waiting for it.
      return await raceAbort(ctx.scheduler.dedupe(key, run), ctx.signal, what);
    } catch (err) {
      if (isGantryError(err, 'OPERATION_ABORTED') && ctx.signal?.aborted !== true) continue;
      throw unlessAborted(err, ctx.signal, what);
    }
  }
}

async function attemptTransfer(ctx: TransferContext, blob: Descriptor): Promise<BlobAction> {
  const object = `blob ${blob.digest}`;
  // The existence check is part of an attempt: one that fails with a temporary error (a 503 the
  // transport could not retry, its host's retry budget spent) restarts the blob like any other.
  let checked = !needsExistenceCheck(ctx, blob);
  let started = false;
  // The most bytes any attempt moved from the source, and failed attempts in a row that moved no more.
  let best = 0;
  let stalls = 0;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(ctx.signal, `blob ${blob.digest}`);
    const moved = { bytes: 0 };
    try {
      if (!checked) {
        const exists = await ctx.destination.hasBlob(blob).catch((err: unknown) => {
          throw copyError('destination', `${object} in ${ctx.destination.name}`, err);
        });
        checked = true;
        if (exists) {
          ctx.onEvent?.({
            type: 'blob-done',
            image: ctx.image,
            digest: blob.digest,
            size: blob.size,
            action: 'skipped',
          });
          return 'skipped';
        }
      }
      if (!started) {
        started = true;
        ctx.onEvent?.({ type: 'blob-start', image: ctx.image, digest: blob.digest, size: blob.size });
      }
      const whole = await smallBlob(ctx, blob, moved);
      const action = await ctx.destination.pushBlob(blob, whole ?? (() => fromSource(ctx, blob, moved)), {
        ...(ctx.source.repository && { mountFrom: ctx.source.repository }),
      });
      if (whole !== undefined) {
        ctx.onEvent?.({ type: 'blob-bytes', image: ctx.image, digest: blob.digest, bytes: whole.byteLength });
      }
      ctx.onEvent?.({ type: 'blob-done', image: ctx.image, digest: blob.digest, size: blob.size, action });
      return action;
    } catch (raw) {
      if (ctx.signal?.aborted) throw unlessAborted(raw, ctx.signal, `blob ${blob.digest}`);
      const err =
        isGantryError(raw) && raw.details.side !== undefined
          ? raw
          : copyError('destination', `${object} in ${ctx.destination.name}`, raw);
      if (!isTemporary(err)) throw err;
      stalls = moved.bytes > best ? 0 : stalls + 1;
      best = Math.max(best, moved.bytes);
      if (stalls >= ctx.budget.maxStalls || !ctx.budget.spend()) throw err;
      ctx.onEvent?.({
        type: 'blob-retry',
        image: ctx.image,
        digest: blob.digest,
        attempt,
        reason: err.message,
      });
      const pause = ctx.budget.pause(stalls);
      if (pause > 0) {
        await sleep(pause, undefined, ctx.signal ? { signal: ctx.signal } : {}).catch(() => {
          throw abortedError(`blob ${blob.digest}`, ctx.signal);
        });
      }
    }
  }
}

/**
 * A small blob read whole from the source (verified, and resumed like any download), so it goes
 * up as one buffer: one write for headers and body, no stream plumbing on the upload side.
 * Undefined for big blobs and blobs that will be mounted. `moved` counts what arrived, even when
 * the read then fails.
 */
async function smallBlob(
  ctx: TransferContext,
  blob: Descriptor,
  moved: { bytes: number },
): Promise<Buffer | undefined> {
  if (blob.size > SMALL_BLOB_BYTES || mountable(ctx)) return undefined;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of ctx.source.fetchBlob(blob) as AsyncIterable<Buffer>) {
      moved.bytes += chunk.byteLength;
      chunks.push(chunk);
    }
  } catch (err) {
    throw copyError('source', `blob ${blob.digest} in ${ctx.source.name}`, err);
  }
  return Buffer.concat(chunks);
}

/**
 * The source stream as the destination reads it: the source's own errors attributed to the source
 * side, progress reported per chunk, and the source closed when the destination stops reading.
 */
function fromSource(ctx: TransferContext, blob: Descriptor, moved: { bytes: number }): Readable {
  const source = ctx.source.fetchBlob(blob);
  const object = `blob ${blob.digest} in ${ctx.source.name}`;
  const onEvent = ctx.onEvent;
  const out = new Transform({
    highWaterMark: 256 * 1024,
    transform(chunk: Buffer, _encoding, callback) {
      moved.bytes += chunk.byteLength;
      onEvent?.({ type: 'blob-bytes', image: ctx.image, digest: blob.digest, bytes: chunk.byteLength });
      callback(null, chunk);
    },
  });
  source.on('error', (err) => out.destroy(copyError('source', object, err)));
  // The upload reports this stream's failure itself; an error after it stopped listening (the
  // destination gave up first) must not become an uncaught exception.
  out.on('error', () => undefined);
  out.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}
