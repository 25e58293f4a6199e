/**
 * The `gantry` command line. Commands are loaded lazily so start-up stays cheap; every error is
 * one line on stderr with an exit code from the table in exit-codes.ts (docs/errors.md).
 */
import { Command, CommanderError, Option } from 'commander';
import { GantryError } from '../core/index.js';
import { ExitCode } from './exit-codes.js';
import { reportError } from './output.js';
import { addRegistryOptions, parseBool, serverUrlOf } from './cli-options.js';
import { VERSION } from './version.js';

type Action = (...args: unknown[]) => Promise<number>;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function run(load: (options: { server?: string }) => Promise<Action>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.opts<{ json?: boolean; server?: string }>();
    try {
      const action = await load(options);
      process.exitCode = await action(...args.slice(0, -2), options);
    } catch (err) {
      process.exitCode = reportError(err, options.json === true);
    }
  };
}

/** Adds the options of commands that read gantry.yaml. */
function appOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'gantry.yaml to use (default: $GANTRY_CONFIG, then ./gantry.yaml)')
    .option('--authfile <path>', 'docker config / auth.json for registries without configured credentials')
    .option('--actor <name>', 'who is acting (default: $GANTRY_ACTOR, the CI user, or $USER)')
    .option('--json', 'print JSON');
}

/** Adds `--server URL` (commands that can go through a Gantry server). */
function serverOption(cmd: Command): Command {
  return cmd.option(
    '--server <url>',
    'go through this Gantry server (default: $GANTRY_SERVER; the API token is $GANTRY_TOKEN)',
  );
}

type RemoteName = 'promote' | 'approve' | 'reject' | 'status' | 'history' | 'rollback' | 'gc' | 'sync';

/** The server form of a command when `--server` or `$GANTRY_SERVER` is set, else the local one. */
function localOrRemote(
  name: RemoteName,
  local: () => Promise<Action>,
): (options: { server?: string }) => Promise<Action> {
  return async (options) => {
    if (serverUrlOf(options.server) === undefined) return local();
    if (name === 'gc' || name === 'sync')
      return (await import('./commands/remote-lifecycle.js'))[name] as Action;
    return (await import('./commands/remote.js'))[name] as Action;
  };
}

/** Builds the command tree. */
export function buildProgram(): Command {
  const program = new Command('gantry')
    .description('Promote container images through environments by moving the exact bytes that were tested.')
    .version(VERSION)
    .showSuggestionAfterError(true)
    .exitOverride()
    // Parse errors are reported by main() in Gantry's own format (one line, USAGE_INVALID, JSON with --json).
    .configureOutput({ outputError: () => undefined });

  addRegistryOptions(
    program
      .command('inspect')
      .description('show digest, media type, platforms, labels, layers and referrers of an image')
      .argument('<ref>', 'image reference, e.g. registry.example.com/team/web:1.4.2')
      .option('--raw', 'print the manifest bytes exactly as stored')
      .option('--no-referrers', 'do not look up referrers')
      .option(
        '--config <file>',
        'gantry.yaml whose registry TLS and credential settings apply (default: $GANTRY_CONFIG, then ./gantry.yaml)',
      )
      .option('--json', 'print JSON'),
  ).action(run(async () => (await import('./commands/inspect.js')).inspect as Action));

  program
    .command('copy')
    .description('copy an image (or with --all-tags a repository) byte-exact, with its referrers')
    .argument('<source>', 'host/repo:tag, host/repo@sha256:…, or oci:PATH:TAG')
    .argument('<destination>', 'host/repo[:tag] or oci:PATH[:TAG] (the tag defaults to the source tag)')
    .addOption(
      new Option('--src-tls-verify [bool]', 'verify the source TLS certificate').argParser(parseBool),
    )
    .addOption(
      new Option('--dest-tls-verify [bool]', 'verify the destination TLS certificate').argParser(parseBool),
    )
    .addOption(new Option('--tls-verify [bool]', 'both of the above').argParser(parseBool))
    .option('--src-creds <user:password>', 'source credentials')
    .option('--dest-creds <user:password>', 'destination credentials')
    .option('--src-cert-dir <dir>', 'extra CA certificates for the source')
    .option('--dest-cert-dir <dir>', 'extra CA certificates for the destination')
    .option('--authfile <path>', 'docker config / auth.json with credentials')
    .option('--all-tags', 'copy every tag of SOURCE repository to DESTINATION repository')
    .option('--keep-going', 'with --all-tags: copy what can be copied and report failures')
    .option(
      '--platform <os/arch[/variant]>',
      'copy only this platform of an index (repeatable); the result is a new digest',
      collect,
      [],
    )
    .option('--include-foreign', 'also copy non-distributable (foreign) layers')
    .option('--no-referrers', 'do not copy signatures, SBOMs and other referrers')
    .option('--dry-run', 'print what would be copied, mounted and skipped; change nothing')
    .option('--concurrency <n>', 'blob transfers in flight overall (default 8)')
    .option('--per-host <n>', 'blob transfers in flight per registry host (default 6)')
    .option('--image-concurrency <n>', 'with --all-tags: images copied at once (default 8)')
    .option('-q, --quiet', 'no progress output')
    .option('--json', 'print a JSON summary')
    .action(run(async () => (await import('./commands/copy.js')).copy as Action));

  for (const [name, description] of [
    ['promote', 'promote APP VERSION|DIGEST to an environment: copy or re-tag, verify, tag, attest'],
    ['plan', 'show what `gantry promote` would do (copy sizes, tags, gates) and change nothing'],
  ] as const) {
    const cmd = appOptions(
      program
        .command(name)
        .description(description)
        .argument('[app]', 'application name from gantry.yaml')
        .argument('[version]', 'version tag or sha256 digest in the source environment')
        .requiredOption('--to <env>', 'target environment')
        .option('--from <env>', 'source environment (default: the only one the target allows)')
        .option(
          '--release <file>',
          'promote the applications of a release file together (tags last, all or nothing)',
        )
        .option(
          '--report <file>',
          'a vulnerability report for the vulnerabilities gate (repeatable)',
          collect,
          [],
        )
        .option(
          '--override',
          'promote despite failing gates (only where the environment allows it; needs --reason)',
        )
        .option('--reason <text>', 'why the gates are overridden (recorded in the attestation)'),
    );
    const local = async (): Promise<Action> => (await import('./commands/promote.js'))[name] as Action;
    if (name === 'plan') cmd.action(run(local));
    else
      serverOption(cmd)
        .option(
          '--no-wait',
          'with --server: print the promotion id (--json: the promotion) and return at once',
        )
        .option(
          '--timeout <duration>',
          'with --server: stop waiting after this long (e.g. 30m; exit 10, the promotion goes on)',
        )
        .action(run(localOrRemote('promote', local)));
  }

  serverOption(
    appOptions(
      program
        .command('approve')
        .description(
          'sign an approval of APP VERSION for an environment and attach it to the image; with --server: approve promotion ID (or the one of APP VERSION awaiting approval for --env)',
        )
        .argument('[app]', 'application name (with --server: or a promotion id)')
        .argument('[version]', 'version tag or digest in the source environment')
        .option('--env <env>', 'environment the approval is for (required without --server)')
        .option(
          '--key <private.pem>',
          "the approver's private key, ECDSA P-256 or Ed25519 (required without --server)",
        )
        .option('--from <env>', 'source environment (default: the only one the target allows)')
        .option('--comment <text>', 'a note recorded with the approval'),
    ),
  ).action(
    run(localOrRemote('approve', async () => (await import('./commands/approve.js')).approve as Action)),
  );
  program
    .command('reject')
    .description('reject promotion ID on a server (or the one of APP VERSION awaiting approval for --env)')
    .argument('[id|app]', 'promotion id, or application name')
    .argument('[version]', 'with APP: version tag or digest')
    .requiredOption('--reason <text>', 'why (recorded in the ledger)')
    .option('--env <env>', 'with APP VERSION: the environment')
    .option('--from <env>', 'with APP VERSION: the source environment, when several promotions wait')
    .option('--server <url>', 'the Gantry server (default: $GANTRY_SERVER; the API token is $GANTRY_TOKEN)')
    .option('--json', 'print JSON')
    .action(run(async () => (await import('./commands/remote.js')).reject as Action));
  addRegistryOptions(
    program
      .command('attach')
      .description('upload a report or evidence file as a referrer of an image (like oras attach)')
      .argument('<ref>', 'image reference')
      .argument('<file>', 'file to attach')
      .option('--artifact-type <type>', 'artifact type (default: detected from the content)')
      .option('--annotation <key=value>', 'annotation on the artifact (repeatable)', collect, [])
      .option(
        '--config <file>',
        'gantry.yaml whose registry TLS and credential settings apply (default: $GANTRY_CONFIG, then ./gantry.yaml)',
      )
      .option('--json', 'print JSON'),
  ).action(run(async () => (await import('./commands/attach.js')).attach as Action));
  serverOption(
    appOptions(
      program
        .command('status')
        .description('the environment × application matrix: versions, digests, who promoted when'),
    ),
  ).action(
    run(localOrRemote('status', async () => (await import('./commands/environments.js')).status as Action)),
  );
  serverOption(
    appOptions(
      program
        .command('history')
        .description('promotions and rollbacks of an application in an environment, newest first')
        .argument('<app>', 'application name')
        .requiredOption('--env <env>', 'environment'),
    ),
  ).action(
    run(localOrRemote('history', async () => (await import('./commands/environments.js')).history as Action)),
  );
  appOptions(
    program
      .command('diff')
      .description('which applications differ between two environments')
      .argument('<env>', 'environment')
      .argument('<other>', 'environment to compare with')
      .option('--exit-code', 'exit 1 when the environments differ (like git diff --exit-code)'),
  ).action(run(async () => (await import('./commands/environments.js')).diff as Action));
  appOptions(
    program
      .command('ref')
      .description('print the digest-pinned reference of what an environment runs (for deploy tooling)')
      .argument('<app>', 'application name')
      .requiredOption('--env <env>', 'environment')
      .option('--allow-unrecorded', 'accept a digest that has no promotion record for the environment'),
  ).action(run(async () => (await import('./commands/environments.js')).ref as Action));
  appOptions(
    program
      .command('pin')
      .description(
        'pin image references in deployment files (Kubernetes, kustomize, Helm values, ECS) to the digests an environment runs',
      )
      .argument('<files...>', 'Kubernetes manifests, kustomization.yaml, Helm values, ECS task definitions')
      .requiredOption('--env <env>', 'environment')
      .option(
        '--check',
        "change nothing; exit 3 when a file is not pinned to the environment's current digests",
      )
      .option('--allow-unrecorded', 'accept digests that have no promotion record for the environment')
      .option(
        '--report <target>',
        'then report to a Gantry server that TARGET runs every application pinned (like gantry deployed)',
      )
      .option(
        '--server <url>',
        'with --report: the Gantry server (default: $GANTRY_SERVER; token $GANTRY_TOKEN)',
      ),
  ).action(run(async () => (await import('./commands/pin.js')).pin as Action));
  serverOption(
    appOptions(
      program
        .command('rollback')
        .description('move an environment back to a digest promoted there before; copies nothing')
        .argument('<app>', 'application name')
        .requiredOption('--env <env>', 'environment')
        .option('--to <version|digest>', 'target (default: the previous promotion)'),
    ),
  ).action(
    run(localOrRemote('rollback', async () => (await import('./commands/rollback.js')).rollback as Action)),
  );
  serverOption(
    appOptions(
      program
        .command('sync')
        .description(
          "mirror repositories (e.g. base images) into other registries, as gantry.yaml's sync: jobs say; copies only what changed",
        )
        .argument('[names...]', 'sync jobs to run (default: every one, also with --server)')
        .option('--dry-run', 'show what would be copied and tagged; write nothing'),
    ),
  )
    .option(
      '--timeout <duration>',
      'with --server: stop waiting for a run after this long (exit 10, it goes on)',
    )
    .action(run(localOrRemote('sync', async () => (await import('./commands/sync.js')).sync as Action)));
  serverOption(
    appOptions(
      program
        .command('gc')
        .description(
          "delete an environment's old images that were never promoted (a plan unless --yes); never what rollback needs",
        )
        .requiredOption('--env <env>', 'environment (a protected one is refused)')
        .option(
          '--older-than <duration>',
          "only images older than this (default: the env's retention.olderThan, else 30d; not with --server)",
        )
        .option(
          '--keep <n>',
          "keep the newest N per application (default: the env's retention.keep, else 20; not with --server)",
        )
        .option('--yes', 'delete (without it: print what would be deleted and why)'),
    ),
  )
    .option(
      '--timeout <duration>',
      'with --server: stop waiting for the run after this long (exit 10, it goes on)',
    )
    .action(run(localOrRemote('gc', async () => (await import('./commands/gc.js')).gc as Action)));
  addRegistryOptions(
    program
      .command('verify')
      .description("check an image's promotion attestation for an environment")
      .argument('<ref>', 'image reference')
      .requiredOption('--env <env>', 'environment the image must have been promoted to')
      .option(
        '--key <public.pem>',
        "trusted public key (repeatable; default: gantry.yaml's attestation keys)",
        collect,
        [],
      )
      .option('--allow-unsigned', 'accept an intact attestation that no trusted key signed')
      .option(
        '--config <file>',
        'gantry.yaml for keys, TLS and credentials (default: $GANTRY_CONFIG, then ./gantry.yaml)',
      )
      .option('--json', 'print JSON'),
  ).action(run(async () => (await import('./commands/verify.js')).verify as Action));

  const hold = program
    .command('hold')
    .description('holds on auto-promotion (a rollback through a server puts one); against a server only');
  serverOption(
    hold
      .command('list')
      .description('active holds on auto-promotion (with --all, released ones too)')
      .option('--app <app>', 'only this application')
      .option('--env <env>', 'only this environment')
      .option('--all', 'also released holds')
      .option('--json', 'print JSON'),
  ).action(run(async () => (await import('./commands/holds.js')).list as Action));
  serverOption(
    hold
      .command('release')
      .description('release the hold on auto-promotion of APP in --env: the next candidate is promoted again')
      .argument('<app>', 'application name')
      .requiredOption('--env <env>', 'environment')
      .option('--json', 'print JSON'),
  ).action(run(async () => (await import('./commands/holds.js')).release as Action));

  program
    .command('deployed')
    .description(
      'report to a Gantry server that a target now runs APP@DIGEST in an environment (what runs where; see docs/server.md)',
    )
    .argument('<images...>', 'APP@DIGEST, e.g. web@sha256:… (one or more)')
    .requiredOption('--env <env>', 'the environment the target belongs to')
    .requiredOption('--target <target>', 'where it runs: a cluster, region or host group (e.g. cluster-a)')
    .option('--server <url>', 'the Gantry server (default: $GANTRY_SERVER; the API token is $GANTRY_TOKEN)')
    .option('--json', 'print JSON')
    .action(run(async () => (await import('./commands/deployed.js')).deployed as Action));

  program
    .command('serve')
    .description('run the Gantry server: HTTP API, API tokens, ledger (see docs/server.md)')
    .option('--config <file>', 'gantry.yaml to serve (default: $GANTRY_CONFIG, then ./gantry.yaml)')
    .option('--authfile <path>', 'docker config / auth.json for registries without configured credentials')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:8080)')
    .option('--data-dir <dir>', 'embedded store (PGlite) directory (default ./gantry-data)')
    .option('--database-url <url>', 'PostgreSQL store instead of --data-dir (default: $GANTRY_DATABASE_URL)')
    .option('--no-dashboard', 'serve the API only, not the web dashboard at /')
    .option(
      '--job-lease <duration>',
      'how long a promotion job stays with a replica that stopped renewing it (renewed every third; default 15s, 3s to 10m)',
    )
    .action(run(async () => (await import('./server-commands.js')).serve as Action));
  const ledger = program.command('ledger').description('check and export the hash-chained ledger');
  ledger
    .command('verify')
    .description('check every entry of the ledger (exit 8 when one was edited, removed or reordered)')
    .option('--data-dir <dir>', 'embedded store directory (default ./gantry-data)')
    .option('--database-url <url>', 'PostgreSQL store (default: $GANTRY_DATABASE_URL)')
    .option('--file <export.jsonl>', 'verify a `gantry ledger export` file offline instead')
    .option('--head <seq:hash>', 'with --file: the head the export must end at')
    .option(
      '--server <url>',
      'ask this Gantry server (default: $GANTRY_SERVER unless a store or --file is given)',
    )
    .option('--json', 'print JSON')
    .action(run(async () => (await import('./server-commands.js')).ledgerVerify as Action));
  ledger
    .command('export')
    .description('write every ledger entry as a JSON line (verifiable offline with `ledger verify --file`)')
    .option('--data-dir <dir>', 'embedded store directory (default ./gantry-data)')
    .option('--database-url <url>', 'PostgreSQL store (default: $GANTRY_DATABASE_URL)')
    .option(
      '--server <url>',
      'export from this Gantry server (default: $GANTRY_SERVER unless a store is given)',
    )
    .action(run(async () => (await import('./server-commands.js')).exportLedger as Action));

  addRegistryOptions(
    program
      .command('ls')
      .description('list every tag of a repository')
      .argument('<repository>', 'repository, e.g. registry.example.com/team/web')
      .option('--json', 'print JSON {repository, tags}'),
  ).action(run(async () => (await import('./commands/ls.js')).ls as Action));

  addRegistryOptions(
    program
      .command('login')
      .description('store credentials for a registry (password read from stdin)')
      .argument('<registry>', 'registry host, e.g. registry.example.com:5000')
      .option('-u, --username <user>', 'user name')
      .option(
        '--password-stdin',
        'read the password from stdin (the default; accepted for docker compatibility)',
      )
      .option('--json', 'print JSON'),
  ).action(run(async () => (await import('./commands/login.js')).login as Action));

  program
    .command('logout')
    .description('remove stored credentials for a registry')
    .argument('<registry>', 'registry host')
    .option('--authfile <path>', 'docker config / auth.json to edit')
    .option('--json', 'print JSON')
    .action(run(async () => (await import('./commands/login.js')).logout as Action));

  return program;
}

/** Entry point: parses argv and sets the exit code. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) process.exitCode = ExitCode.ok;
      else if (err.code === 'commander.help')
        process.exitCode = ExitCode.usage; // help shown on stderr
      else process.exitCode = reportError(usageError(err, helpHint(program, argv)), argv.includes('--json'));
      return;
    }
    process.exitCode = reportError(err, argv.includes('--json'));
  }
}

/** A parser error (missing option, unknown option or command, …) as a `USAGE_INVALID` error. */
export function usageError(err: CommanderError, hint = 'gantry --help'): GantryError {
  const message = err.message
    .replace(/^error: /, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  return new GantryError('USAGE_INVALID', `${message} (see ${hint})`);
}

/** `gantry <command> --help` for the command named in argv, or `gantry --help`. */
function helpHint(program: Command, argv: readonly string[]): string {
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  return name !== undefined && program.commands.some((c) => c.name() === name)
    ? `gantry ${name} --help`
    : 'gantry --help';
}
