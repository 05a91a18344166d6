import type { ErrorCode } from '../../core/errors.js';
import type { JobStage } from '../../core/queue/jobs.js';
import type { QuotaReport } from '../../core/quotas/quota-service.js';
import type { RequestSummary } from '../../core/requests/request-queries.js';
import type { AttachmentPlan, DeliverableFile } from './attachment-plan.js';

/**
 * What stembot shows, as plain data: each platform renders these its own way (Discord markdown and
 * components, Slack Block Kit). User-controlled text (titles, file names, reasons that may name a
 * file) is left as it came: escaping it is the renderer's job, in its platform's markup.
 */
export type MessageView = ProgressView | PreviewView | ResultView | FailureView | RefusalView | QuotaView | JobsPageView;

export type ProgressStage = JobStage | 'queued' | 'uploading';

/** A request in flight: stage, how far, and a way to cancel it. */
export interface ProgressView {
  kind: 'progress';
  requestId: string;
  /** As the source gave it (user-controlled). */
  title: string;
  stage: ProgressStage;
  fraction: number;
  etaSeconds?: number;
  /** Separations ahead in the queue, while queued. */
  position?: number;
  /** Set once the preview is out: the rest of the progress is the whole song's. */
  preview?: PreviewSpan;
}

/** Where a preview's excerpt lies in the track. */
export interface PreviewSpan {
  startSeconds: number;
  durationSeconds: number;
}

/** A short excerpt's stems, posted in the request's message while the whole song is separated. */
export interface PreviewView extends PreviewSpan {
  kind: 'preview';
  requestId: string;
  /** As the source gave it (user-controlled). */
  title: string;
  files: DeliverableFile[];
}

/** A finished request: the stems that go along with the message, and why any others do not. */
export interface ResultView {
  kind: 'result';
  title: string;
  /** Who asked: a platform may address them where the result is not a reply to them already. */
  requesterId: string;
  files: AttachmentPlan;
  /** The stems page (mixer and downloads), when some stems are not attached or the format is lossless. */
  link?: StemsLink;
  /** The stems' waveforms as a small PNG, shown with the result. */
  picture?: DeliverableFile;
}

/** A signed link to a request's stems page, and when it stops working. */
export interface StemsLink {
  url: string;
  expiresAt: Date;
}

/** A request that failed or was cancelled after it was accepted. */
export interface FailureView {
  kind: 'failure';
  title: string;
  /** The user-facing reason core recorded (it may name the user's file); absent when none was. */
  reason?: string;
}

/**
 * A command that could not be carried out: a UserError's own words, or, for our failures, only a
 * reference the operator finds the log line by (see failure-reference.ts).
 */
export interface RefusalView {
  kind: 'refusal';
  cause: { type: 'user'; code: ErrorCode; message: string } | { type: 'internal'; reference: string };
}

/** A tenant's limits and usage; `saved` after an admin changed them. */
export interface QuotaView {
  kind: 'quota';
  report: QuotaReport;
  saved: boolean;
}

/** One page (0-based) of a user's recent requests in one tenant, newest first. */
export interface JobsPageView {
  kind: 'jobs';
  page: number;
  items: RequestSummary[];
  hasNext: boolean;
}

/** The views a request's own message shows over its life. */
export type RequestMessageView = ProgressView | PreviewView | ResultView | FailureView;
