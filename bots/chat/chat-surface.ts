import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import type { Platform } from '../../core/db/entities/tenant.js';
import type { RequestMessageView } from './message-view.js';

/**
 * What a chat platform does for the shared flow: find a request's message again from what was
 * stored, show a view in it, and say why a result could not be posted. `Message` is the platform's
 * own record of where a request is shown (stored on the request as its platformMessage).
 */
export interface ChatSurface<Message extends PlatformMessage> {
  readonly platform: Platform;
  /** The least time between two edits of one message, counted from the end of the previous one. */
  readonly minEditIntervalMs: number;
  /** The per-file upload limit when the request did not record one. */
  readonly defaultFileLimitBytes: number;
  /** The most files one message can carry. */
  readonly maxFilesPerMessage: number;
  /** The stored platformMessage, or undefined when it is not this platform's. */
  parse(platformMessage: PlatformMessage): Message | undefined;
  /**
   * Shows `view` in the request's message and returns where it now lives: the same object when
   * nothing moved, a new one when the message did (the caller stores it). `postKey`, stable across
   * retries of one post, lets a platform that can make a repeated post a no-op do so.
   */
  show(message: Message, view: RequestMessageView, options?: { postKey?: string }): Promise<Message>;
  /** Whether the message already carries exactly these files: a poster that died after the upload went through. */
  alreadyCarries(message: Message, fileNames: string[]): Promise<boolean>;
  /**
   * Tells the requester, where the platform still lets us, why their result could not be posted
   * (`error` is what posting it threw). True once told: the delivery is then done; false to retry it.
   */
  explainUndeliverable(message: Message, error: unknown): Promise<boolean>;
}
