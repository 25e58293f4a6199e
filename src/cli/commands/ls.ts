/** `gantry ls REPO`: every tag of a repository. */
import { escapeControl } from '../../core/index.js';
import { parseRepository } from '../../app.js';
import { printJson, printLines } from '../output.js';
import { createClient, type RegistryOptionValues } from '../registry-options.js';

/** Options of `gantry ls`. */
export interface LsOptions extends RegistryOptionValues {
  readonly json?: boolean;
}

/**
 * Runs `gantry ls`; JSON output is `{repository, tags}`, plus `invalidTags` (control characters
 * escaped) when the registry listed entries that are not valid tag names. Those are never printed
 * as tags: the human output warns about them on stderr, escaped, so a name holding a newline or
 * an escape sequence cannot forge lines or drive the terminal.
 */
export async function ls(repoText: string, options: LsOptions): Promise<number> {
  const repo = parseRepository(repoText);
  const client = createClient(options.authfile, [{ hosts: [repo.registry], flags: options }]);
  try {
    const { tags, invalid } = await client.tagListChecked(repo);
    const shown = invalid.map((t) => escapeControl(t.length > 200 ? `${t.slice(0, 197)}...` : t));
    if (options.json) {
      printJson({
        repository: `${repo.registry}/${repo.repository}`,
        tags,
        ...(shown.length > 0 && { invalidTags: shown }),
      });
      return 0;
    }
    if (tags.length > 0) printLines(...tags.map(escapeControl));
    if (shown.length > 0) {
      process.stderr.write(
        `gantry: warning: ${repo.registry}/${repo.repository} lists ${shown.length} ${shown.length === 1 ? 'entry that is not a valid tag name' : 'entries that are not valid tag names'}: ${shown
          .slice(0, 10)
          .map((t) => `"${t}"`)
          .join(', ')}${shown.length > 10 ? ', …' : ''}\n`,
      );
    }
    return 0;
  } finally {
    await client.close();
  }
}
