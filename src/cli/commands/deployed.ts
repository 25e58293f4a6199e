/**
 * `gantry deployed --env ENV --target TARGET APP@DIGEST…` (against a server only): tells the
 * server what a target now runs (`POST /api/v1/deployments`), so `gantry status --server` shows
 * what runs where and flags drift. `gantry pin --report TARGET` reports the same way; both share
 * {@link reportDeployments}.
 */
import { GantryError } from '../../core/index.js';
import { serverUrlOf } from '../cli-options.js';
import { printJson, printLines } from '../output.js';
import { objectWith, ServerClient } from '../server-client.js';

/** One application's digest to report. */
export interface DeployedImage {
  readonly app: string;
  readonly digest: string;
}

/** A report as the server stored it. */
export interface ReportedDeployment {
  readonly id: number;
  readonly environment: string;
  readonly application: string;
  readonly target: string;
  readonly digest: string;
  readonly reportedBy: string;
  readonly reportedAt: string;
}

/** Options of `gantry deployed`. */
export interface DeployedOptions {
  readonly env: string;
  readonly target: string;
  readonly server?: string;
  readonly json?: boolean;
}

const IMAGE = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})@((?:sha256:[a-f0-9]{64})|(?:sha512:[a-f0-9]{128}))$/;
/** What the server accepts as a target (docs/server.md, "What runs where"). */
const TARGET = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** Parses `APP@DIGEST`; throws `USAGE_INVALID`. */
export function parseDeployedImage(text: string): DeployedImage {
  const m = IMAGE.exec(text);
  if (!m?.[1] || !m[2])
    throw new GantryError(
      'USAGE_INVALID',
      `"${text}" is not APP@DIGEST (an application from gantry.yaml and sha256:<64 lowercase hex>, e.g. web@sha256:…)`,
    );
  return { app: m[1], digest: m[2] };
}

/** Checks a `--target`/`--report` value; throws `USAGE_INVALID`. */
export function checkTarget(target: string, flag: string): string {
  if (!TARGET.test(target))
    throw new GantryError(
      'USAGE_INVALID',
      `${flag} "${target}" is not a target: 1–128 letters, digits and . _ : / -, starting with a letter or digit`,
    );
  return target;
}

/** The client of the server named by `--server` or `GANTRY_SERVER`; `USAGE_INVALID` when neither is set. */
export function deploymentClient(server: string | undefined, command: string): ServerClient {
  const url = serverUrlOf(server);
  if (url === undefined)
    throw new GantryError(
      'USAGE_INVALID',
      `${command} reports to a Gantry server: pass --server URL or set GANTRY_SERVER (and GANTRY_TOKEN)`,
    );
  return ServerClient.fromEnvironment(url);
}

const reported = objectWith<ReportedDeployment>({
  environment: 'string',
  application: 'string',
  target: 'string',
  digest: 'string',
});

/** Reports each image as running on `target` in `env`, in order; returns what the server stored. */
export async function reportDeployments(
  client: ServerClient,
  env: string,
  target: string,
  images: readonly DeployedImage[],
): Promise<ReportedDeployment[]> {
  const out: ReportedDeployment[] = [];
  for (const image of images)
    out.push(
      await client.post('/deployments', { env, app: image.app, digest: image.digest, target }, reported),
    );
  return out;
}

/** Runs `gantry deployed`. */
export async function deployed(images: string[], options: DeployedOptions): Promise<number> {
  if (images.length === 0)
    throw new GantryError('USAGE_INVALID', 'name at least one APP@DIGEST that the target runs now');
  const parsed = images.map(parseDeployedImage);
  const target = checkTarget(options.target, '--target');
  const client = deploymentClient(options.server, 'gantry deployed');
  const stored = await reportDeployments(client, options.env, target, parsed);
  if (options.json) printJson({ deployments: stored });
  else
    printLines(
      ...stored.map(
        (d) => `Reported ${d.application}@${d.digest} running on ${d.target} in ${d.environment}.`,
      ),
    );
  return 0;
}
