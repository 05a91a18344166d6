import { describe, expect, it } from 'vitest';
import { planRender } from '../../../worker/jobs/render-job.js';
import { rejectsWithUserError } from '../../support/user-error.js';

const MASTERS = ['drums', 'bass', 'other', 'vocals'];

describe('planRender', () => {
  it("refuses a stem that is not one of the separation's, without repeating a path-like name back to the chat", async () => {
    const error = await rejectsWithUserError(Promise.resolve().then(() => planRender(MASTERS, { stems: 'single', stem: '../../00000000-0000-4000-8000-00000000000b/masters/vocals', format: 'mp3' })));
    expect(error.code).toBe('unknown_stem');
    expect(error.message).toBe('This model has no such stem; it has drums, bass, other, vocals.');
  });
});
