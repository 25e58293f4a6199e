/**
 * What the registry poller saw last: per environment and application, each tag with its digest.
 * Kept in the store so that a restart, or another replica taking the poll over, reports only
 * tags that are new or moved since.
 */
import type { Kysely } from 'kysely';
import type { StoreDatabase } from './schema.js';

/** Rows written per statement. */
const CHUNK = 500;

/** Reads and replaces the tags the poller saw. */
export class RegistryPolls {
  readonly #db: Kysely<StoreDatabase>;

  constructor(db: Kysely<StoreDatabase>) {
    this.#db = db;
  }

  /** Tag → digest as last seen for `app` in `environment` (empty when never polled). */
  async seen(environment: string, app: string): Promise<Map<string, string>> {
    const rows = await this.#db
      .selectFrom('registry_polls')
      .select(['tag', 'digest'])
      .where('environment', '=', environment)
      .where('app', '=', app)
      .execute();
    return new Map(rows.map((r) => [r.tag, r.digest]));
  }

  /** Records `tags` as what `app` in `environment` holds now (tags gone are forgotten). */
  async replace(
    environment: string,
    app: string,
    tags: ReadonlyMap<string, string>,
    time: Date,
  ): Promise<void> {
    const rows = [...tags].map(([tag, digest]) => ({ environment, app, tag, digest, seen_at: time }));
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('registry_polls')
        .where('environment', '=', environment)
        .where('app', '=', app)
        .execute();
      for (let i = 0; i < rows.length; i += CHUNK) {
        await trx
          .insertInto('registry_polls')
          .values(rows.slice(i, i + CHUNK))
          .execute();
      }
    });
  }
}
