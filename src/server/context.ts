/** What routes are built from: the store, its ledger and tokens, the current app, the clock. */
import type { App } from '../app.js';
import type { PromotionDesk } from '../jobs/index.js';
import type { Ledger, Store, Tokens } from '../store/index.js';
import type { ServerMetrics } from './metrics.js';
import type { SnapshotOptions } from './snapshot.js';

/** Shared by every route of one server. */
export interface ServerContext {
  readonly store: Store;
  readonly ledger: Ledger;
  readonly tokens: Tokens;
  /** The app wired from the configuration loaded last (replaced on reload). */
  readonly app: () => App;
  readonly now: () => Date;
  readonly metrics: ServerMetrics;
  readonly version: string;
  /** How long the status matrix is shared between requests (see snapshot.ts). */
  readonly statusCache: SnapshotOptions;
  /** The promotion runtime (promotion, release, approval and rollback routes). */
  readonly desk?: PromotionDesk;
}
