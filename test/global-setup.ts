/**
 * Builds dist/ before the suites run so CLI tests exercise the current code. The build is
 * skipped when dist/ is already newer than every source file, so parallel test runs do not
 * rebuild it under each other's feet.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const sources = Math.max(
    newest(join(root, 'src')),
    newest(join(root, 'web')),
    statSync(join(root, 'scripts/build.mjs')).mtimeMs,
    statSync(join(root, 'package-lock.json')).mtimeMs,
  );
  let built = 0;
  try {
    built = Number(readFileSync(join(root, 'dist/.built-from'), 'utf8'));
  } catch {
    built = 0;
  }
  if (built === sources) return;
  execFileSync(process.execPath, ['scripts/build.mjs', `--stamp=${sources}`], {
    cwd: root,
    stdio: 'inherit',
  });
}
