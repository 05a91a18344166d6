import { Readable } from 'node:stream';

export interface DownloadStreamOptions {
  /** The job's signal: once it has fired, whatever the transfer throws is reported as its reason (the cancel). */
  signal?: AbortSignal | undefined;
  /** Sees each chunk's size before it is passed on; throwing ends the download with that error (a size cap). */
  onChunk?: (bytes: number) => void;
  /** Turns a failure of the transfer into the error the job reports (a reset connection into a retryable UserError). */
  explain: (error: unknown) => unknown;
  /** Ends the transfer at its source, so a reader that gives up does not leave the connection open. */
  abort: () => void;
}

/**
 * A download as the Readable the decoder reads. Every failure of the transfer (the host resetting
 * the connection, a cancel, the size cap) becomes this stream's error, so it travels down the
 * decoder's pipeline to the job instead of surfacing as an unhandled 'error' event, which would
 * take the whole process down; destroying the stream ends the transfer. Chunks are pulled only
 * when read, so nothing can fail before the reader is listening.
 */
export function downloadStream(body: AsyncIterable<Uint8Array>, options: DownloadStreamOptions): Readable {
  const chunks = body[Symbol.asyncIterator]();
  const failure = (error: unknown): Error => {
    const reported: unknown = options.signal?.aborted ? options.signal.reason : options.explain(error);
    return reported instanceof Error ? reported : new Error(String(reported));
  };
  return new Readable({
    read(this: Readable) {
      void chunks
        .next()
        .then((step) => {
          if (step.done) {
            this.push(null);
            return;
          }
          options.onChunk?.(step.value.byteLength);
          this.push(step.value);
        })
        .catch((error: unknown) => this.destroy(failure(error)));
    },
    destroy(error, callback) {
      options.abort();
      callback(error);
    },
  });
}
