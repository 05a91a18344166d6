import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { parseFailure } from '../../../core/queue/jobs.js';
import { toJobFailure } from '../../../worker/jobs/job-context.js';

describe('what a failed job tells the chat', () => {
  it('passes a user-facing refusal on as its code and sentence, not to be retried', () => {
    const failure = toJobFailure(new UserError('audio_empty', 'That audio is empty.'));
    expect(failure).toBeInstanceOf(UnrecoverableError);
    expect(parseFailure(failure.message)).toEqual({ code: 'audio_empty', message: 'That audio is empty.' });
  });

  it('never shows the server’s folders: an unwritable output becomes a retryable storage failure', () => {
    const failure = toJobFailure(new UserError('output_unwritable', 'Cannot write /srv/stembot/storage/separations/x/masters/vocals.flac: the disk is full.'));
    expect(failure).not.toBeInstanceOf(UnrecoverableError);
    expect(parseFailure(failure.message)).toEqual({ code: 'storage_unwritable', message: 'The server could not store the stems right now; try again later.' });
    expect(failure.message).not.toContain('/srv/');
  });
});
