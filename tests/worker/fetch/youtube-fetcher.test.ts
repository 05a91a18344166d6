import { describe, expect, it } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { describeVideo, YouTubeFetcher, type VideoDetails } from '../../../worker/fetch/youtube-fetcher.js';
import { captureLogger } from '../../support/services.js';

const video = (overrides: Partial<VideoDetails>): VideoDetails => ({ title: 'Song', lengthSeconds: '212', isLiveContent: false, age_restricted: false, ...overrides });

function refusalOf(details: VideoDetails): UserError {
  try {
    describeVideo(details);
  } catch (error) {
    if (error instanceof UserError) return error;
  }
  throw new Error('expected a refusal');
}

describe('YouTube metadata before queuing', () => {
  it('gives title and duration of a normal video', () => {
    expect(describeVideo(video({}))).toEqual({ title: 'Song', durationSeconds: 212 });
  });

  it('refuses live streams, premieres and age-restricted videos, each in its own words', () => {
    expect(refusalOf(video({ isLiveContent: true, lengthSeconds: '0' })).message).toBe("Live streams can't be separated; try again once the stream has ended and been uploaded.");
    expect(refusalOf(video({ isUpcoming: true })).code).toBe('upcoming');
    expect(refusalOf(video({ age_restricted: true })).code).toBe('age_restricted');
  });

  it('takes a finished live stream (it has a length) like any video', () => {
    expect(describeVideo(video({ isLiveContent: true, lengthSeconds: '3600' })).durationSeconds).toBe(3600);
  });

  it('says YouTube could not be reached when the network is down (as on this machine)', async () => {
    const fetcher = new YouTubeFetcher(captureLogger('silent').logger, { attempts: 2, firstDelayMs: 10 });
    const error = await fetcher.inspect({ kind: 'youtube', videoId: 'dQw4w9WgXcQ' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('youtube_unreachable');
  });
});
