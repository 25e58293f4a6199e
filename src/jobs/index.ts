/** Public surface of the jobs layer: the durable promotion runtime behind `gantry serve`. */
export type * from './desk.js';
export { PromotionRuntime } from './runtime.js';
export type { PromotionRuntimeOptions } from './runtime.js';
export { PROMOTION_JOB } from './runner.js';
export type { RunnerOptions } from './runner.js';
export { storeApprovals } from './store-approvals.js';
export type * from './candidates.js';
export { webhookOutbox, redeliver, newDeliveryId, WEBHOOK_JOB } from './webhook-outbox.js';
export type { WebhookOutboxOptions } from './webhook-outbox.js';
export { WebhookWorker, signWebhook, retryDelayMs } from './webhooks.js';
export type { WebhookWorkerOptions, WebhookOutcome } from './webhooks.js';
export { RegistryPoller, unwiredCandidateSink } from './poller.js';
export type { PollRound, RegistryPollerOptions } from './poller.js';
export { AUTO_CALLER } from './runtime.js';
export type { PlannedRequest, RuntimeTransaction } from './runtime.js';
export { AutoPromoter } from './auto-promote.js';
export type {
  AutoPromoterOptions,
  AutoPromotionOutcome,
  CandidateRegistration,
  HoldDesk,
  HoldFilter,
  HoldView,
} from './auto-promote.js';
export {
  LIFECYCLE_JOB,
  LifecycleScheduler,
  requestLifecycleRun,
  SCHEDULE_ACTOR,
  unavailableRunners,
} from './lifecycle.js';
export type { LifecycleRunners, LifecycleRunRequest, LifecycleSchedulerOptions } from './lifecycle.js';
export { configuredJobs, configuredSchedules, dueSlot, latestSlot } from './lifecycle-slots.js';
export type { LifecycleJob, LifecycleSchedule } from './lifecycle-slots.js';
