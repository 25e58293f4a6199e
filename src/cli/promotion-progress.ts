/**
 * What `gantry promote --server` shows on stderr while it waits: each state the promotion enters
 * and, while it copies, bytes and blobs (a bar on a terminal, a line per finished blob when piped;
 * the styles of progress.ts). A promotion that waits for approval says so in every mode, --json
 * included, because a pipeline that seems to hang should say why. Nothing goes to stdout.
 */
import type { SingleBar } from 'cli-progress';
import type { PromotionStreamEvent } from '../jobs/index.js';
import { formatBytes, type ProgressMode } from './progress.js';

/** A display of a promotion's events. */
export interface PromotionProgress {
  /** Shows one event. */
  event(e: PromotionStreamEvent): void;
  /** Ends the display (removes a bar). */
  stop(): void;
}

/** Creates the display for `mode`; `approveHint` is the command that approves the promotion. */
export async function createPromotionProgress(
  mode: ProgressMode,
  approveHint: string,
): Promise<PromotionProgress> {
  const write = (s: string): void => void process.stderr.write(`${s}\n`);
  let lastState = '';
  let lastBlobs = -1;
  let bar: SingleBar | undefined;
  const Bar = mode === 'bars' ? (await import('cli-progress')).default : undefined;
  const stopBar = (): void => {
    bar?.stop();
    bar = undefined;
  };
  return {
    event(e) {
      if (e.type === 'state') {
        if (e.state === lastState) return;
        lastState = e.state;
        stopBar();
        if (e.state === 'awaiting-approval')
          write(`Promotion ${e.id} is awaiting approval; waiting (approve it with: ${approveHint})`);
        else if (mode !== 'none') write(`Promotion ${e.id}: ${e.state}`);
      } else if (e.type === 'progress' && mode !== 'none') {
        const text = `${formatBytes(e.bytesTransferred)} of ${formatBytes(e.bytesTotal)}, ${e.blobsDone}/${e.blobsTotal} blobs`;
        if (Bar) {
          bar ??= new Bar.SingleBar(
            {
              clearOnComplete: true,
              hideCursor: true,
              stream: process.stderr,
              format: ' copying [{bar}] {percentage}% {text}',
              barsize: 24,
            },
            Bar.Presets.shades_classic,
          );
          if (!bar.isActive) bar.start(Math.max(1, e.bytesTotal), 0, { text });
          bar.setTotal(Math.max(1, e.bytesTotal));
          bar.update(e.bytesTransferred, { text });
        } else if (e.blobsDone !== lastBlobs) {
          lastBlobs = e.blobsDone;
          write(`Copying: ${text}`);
        }
      } else if (e.type === 'end') {
        stopBar();
      }
    },
    stop: stopBar,
  };
}
