/**
 * `gantry pin --env ENV FILE… [--check]`: rewrites image references in deployment files
 * (Kubernetes manifests, kustomizations, Helm values, ECS task definitions) to the digests ENV
 * runs, keeping comments and formatting. `--check` changes nothing and fails with
 * `PIN_CHECK_FAILED` (exit 3) when a file is not pinned to the environment's current digests.
 * `--report TARGET` then tells a Gantry server that TARGET runs every application pinned
 * (`POST /api/v1/deployments`, as `gantry deployed`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { App } from '../../app.js';
import { GantryError, writeFileAtomic } from '../../core/index.js';
import { pinFile, type PinChange, type PinResult, type PinTarget, type PinUnpinned } from '../../app.js';
import { isValidTag } from '../../app.js';
import { withApp, type AppCommandOptions } from '../app-context.js';
import { exitCodeFor } from '../exit-codes.js';
import { printJson, printLines, reportError } from '../output.js';
import {
  checkTarget,
  deploymentClient,
  reportDeployments,
  type DeployedImage,
  type ReportedDeployment,
} from './deployed.js';

/** Options of `gantry pin`. */
export interface PinOptions extends AppCommandOptions {
  readonly env: string;
  /** Change nothing; fail when a file is not pinned. */
  readonly check?: boolean;
  /** Accept digests with no promotion record for the environment. */
  readonly allowUnrecorded?: boolean;
  /** After pinning, report to the server that this target runs every application pinned. */
  readonly report?: string;
  /** The server `report` goes to (default `GANTRY_SERVER`). */
  readonly server?: string;
}

interface FileOutcome {
  readonly file: string;
  readonly text: string;
  readonly result: PinResult;
}

/** Runs `gantry pin`. */
export async function pin(files: string[], options: PinOptions): Promise<number> {
  if (options.report !== undefined && options.check)
    throw new GantryError(
      'USAGE_INVALID',
      '--report goes with pinning, not with --check (which changes nothing)',
    );
  if (options.server !== undefined && options.report === undefined)
    throw new GantryError(
      'USAGE_INVALID',
      '--server goes with --report TARGET (pin itself reads the registries)',
    );
  // A bad target or a missing server fails before any file is read or written.
  const reportTo =
    options.report === undefined
      ? undefined
      : {
          target: checkTarget(options.report, '--report'),
          client: deploymentClient(options.server, 'gantry pin --report'),
        };
  const inputs = await readFiles(files);
  // A file that cannot be parsed fails the run before any registry is asked.
  for (const f of inputs) pinFile({ text: f.text, name: f.file }, new Map());
  const targets = await withApp(options, (a) =>
    environmentTargets(a, options.env, options.allowUnrecorded === true),
  );
  const outcomes: FileOutcome[] = inputs.map((f) => ({
    ...f,
    result: pinFile({ text: f.text, name: f.file }, targets),
  }));
  if (!options.check) {
    for (const o of outcomes) if (o.result.text !== o.text) await writeAtomic(o.file, o.result.text);
  }
  const reported = reportTo
    ? await reportDeployments(reportTo.client, options.env, reportTo.target, pinnedImages(outcomes, targets))
    : undefined;
  return report(outcomes, options, reported);
}

/** Every application pinned in some file, with the digest it is pinned to, in name order. */
function pinnedImages(
  outcomes: readonly FileOutcome[],
  targets: ReadonlyMap<string, PinTarget>,
): DeployedImage[] {
  const digests = new Map<string, string>();
  for (const t of targets.values())
    if (t.application !== undefined && t.digest !== undefined) digests.set(t.application, t.digest);
  const apps = new Set(outcomes.flatMap((o) => o.result.pinned));
  return [...apps].sort().flatMap((app) => {
    const digest = digests.get(app);
    return digest === undefined ? [] : [{ app, digest }];
  });
}

/**
 * What `env` runs of every application: repository → digest and the tags that name it. Only a
 * proven state: an unreadable registry is an error, and a digest without a promotion record is
 * refused (`PROMOTION_UNRECORDED`) unless `allowUnrecorded`.
 */
async function environmentTargets(
  a: App,
  env: string,
  allowUnrecorded: boolean,
): Promise<Map<string, PinTarget>> {
  const states = await Promise.all(
    [...a.config.applications.keys()].map((app) =>
      a.promotions.deployable(app, env, { ...(allowUnrecorded && { allowUnrecorded: true }) }),
    ),
  );
  const config = a.config.environments.get(env);
  const envTags = config ? [...config.floating, ...(config.tag ? [config.tag] : [])] : [];
  const targets = new Map<string, PinTarget>();
  for (const s of states) {
    const digest = s.digest;
    const tags = [...new Set([...(s.version ? [s.version] : []), ...envTags])].filter(isValidTag);
    targets.set(s.repository, { ...(digest && { digest }), tags, application: s.application });
  }
  return targets;
}

async function readFiles(files: readonly string[]): Promise<{ file: string; text: string }[]> {
  if (files.length === 0) throw new GantryError('USAGE_INVALID', 'name at least one file to pin');
  const seen = new Set<string>();
  const out: { file: string; text: string }[] = [];
  for (const file of files) {
    if (seen.has(resolve(file))) continue;
    seen.add(resolve(file));
    try {
      out.push({ file, text: await readFile(file, 'utf8') });
    } catch (err) {
      throw new GantryError('LOCAL_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

/**
 * Replaces a file through a temporary file in its directory, renamed over it, so a reader never
 * sees half a file. Keeps the file's mode; a symbolic link keeps pointing at the new content.
 */
async function writeAtomic(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text);
  } catch (err) {
    throw new GantryError('LOCAL_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function report(
  outcomes: readonly FileOutcome[],
  options: PinOptions,
  reported: readonly ReportedDeployment[] | undefined,
): number {
  const { env } = options;
  const changes = outcomes.flatMap((o) => o.result.changes.map((c) => ({ file: o.file, ...c })));
  const unpinned = outcomes.flatMap((o) => o.result.unpinned.map((u) => ({ file: o.file, ...u })));
  const references = outcomes.reduce((n, o) => n + o.result.references, 0);
  const changedFiles = outcomes.filter((o) => o.result.text !== o.text).length;
  const failing = new Set([...changes, ...unpinned].map((x) => x.file)).size;
  const failed = options.check === true && changes.length + unpinned.length > 0;
  const error = failed
    ? new GantryError(
        'PIN_CHECK_FAILED',
        `${plural(changes.length + unpinned.length, 'reference')} in ${plural(failing, 'file')} ` +
          `${changes.length + unpinned.length === 1 ? 'is' : 'are'} not pinned to ${env}'s current digests`,
      )
    : undefined;

  if (options.json) {
    // --check changes nothing: every reference that is not pinned is listed under `unpinned`
    // (`reason` says why; `expected` is what pin would write), and no file is `changed`.
    const notRunning = unpinned.map((u) => ({ ...u, reason: 'not-running' as const }));
    printJson({
      environment: env,
      check: options.check === true,
      references,
      changes: options.check ? [] : changes,
      unpinned: options.check
        ? [
            ...changes.map(({ from, to, ...at }) => ({
              ...at,
              reference: from,
              reason: 'not-pinned' as const,
              expected: to,
            })),
            ...notRunning,
          ]
        : notRunning,
      files: outcomes.map((o) => ({
        file: o.file,
        references: o.result.references,
        changed: !options.check && o.result.text !== o.text,
      })),
      ...(reported && { reported }),
      ...(error && { error: { code: error.code, message: error.message } }),
    });
    return error ? exitCodeFor(error.code) : 0;
  }

  const lines: string[] = [];
  if (options.check) {
    for (const c of changes) lines.push(`${where(c)}: ${c.from} is not pinned to ${env} (${c.to})`);
    for (const u of unpinned) lines.push(`${where(u)}: ${u.reference}: ${name(u)} does not run in ${env}`);
    if (!failed)
      lines.push(
        references === 0
          ? `No references to the applications of ${env} in ${plural(outcomes.length, 'file')}.`
          : `All ${plural(references, 'reference')} in ${plural(outcomes.length, 'file')} are pinned to ${env}'s current digests.`,
      );
  } else {
    for (const c of changes) lines.push(`${where(c)}: ${c.from} → ${c.to}`);
    lines.push(
      changes.length > 0
        ? `Pinned ${plural(changes.length, 'reference')} in ${plural(changedFiles, 'file')} to ${env}.`
        : references - unpinned.length > 0
          ? `All ${plural(references - unpinned.length, 'reference')} already pinned to ${env}; nothing to change.`
          : `No references to the applications of ${env} in ${plural(outcomes.length, 'file')}.`,
    );
    if (reported)
      lines.push(
        reported.length > 0
          ? `Reported ${reported.map((d) => d.application).join(', ')} running on ${options.report ?? ''} in ${env}.`
          : `Nothing pinned: nothing reported for ${options.report ?? ''}.`,
      );
    for (const u of unpinned)
      process.stderr.write(
        `gantry: warning: ${where(u)}: ${name(u)} does not run in ${env}; ${u.reference} left as it is\n`,
      );
  }
  if (lines.length > 0) printLines(...lines);
  return error ? reportError(error, false) : 0;
}

const where = (x: { file: string; line: number }): string => `${x.file}:${x.line}`;
const name = (x: PinChange | PinUnpinned): string => x.application ?? x.repository;
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
