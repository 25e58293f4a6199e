/** `gantry ls REPO`: every tag of a repository. */
import { parseRepository } from '../../registry/index.js';
import { printJson, printLines } from '../output.js';
import { createClient, type RegistryOptionValues } from '../registry-options.js';

/** Options of `gantry ls`. */
export interface LsOptions extends RegistryOptionValues {
  readonly json?: boolean;
}

/** Runs `gantry ls`; JSON output is `{repository, tags}`. */
export async function ls(repoText: string, options: LsOptions): Promise<number> {
  const repo = parseRepository(repoText);
  const client = createClient(options.authfile, [{ hosts: [repo.registry], flags: options }]);
  try {
    const tags = await client.tagList(repo);
    if (options.json) printJson({ repository: `${repo.registry}/${repo.repository}`, tags });
    else if (tags.length > 0) printLines(...tags);
    return 0;
  } finally {
    await client.close();
  }
}
