/** What routes are built from: the store, its ledger and tokens, the current app, the clock. */
import type { App } from '../app.js';
import type { WebhookConfig } from '../config/index.js';
import type { CandidateSink, HoldDesk, PromotionDesk } from '../jobs/index.js';
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
  /**
   * What environments hold or run has changed here, for `reason` (`promotion.completed`,
   * `rollback.completed`, `deployment.reported`; default `status`): cached readings are dropped
   * and event streams told. Routes that cache add their invalidation with `onStatusChange`.
   */
  statusChanged(reason?: string): void;
  /** Registers a function `statusChanged` calls (with its reason). */
  onStatusChange(listener: (reason: string) => void): void;
  /** The promotion runtime (promotion, release, approval and rollback routes). */
  readonly desk?: PromotionDesk;
  /** The webhook endpoints of the current configuration. */
  readonly webhooks: () => readonly WebhookConfig[];
  /** Where registry notifications put candidates (the auto-promotion side). */
  readonly candidates?: CandidateSink;
  /** Holds on auto-promotion (the hold routes). */
  readonly holds?: HoldDesk;
}
