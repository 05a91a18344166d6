/**
 * Edits of one request's message, one at a time in the order they were asked for, within this
 * process. Progress edits and the outbox's posts both go through it, so a progress edit still in
 * flight when the result is posted lands before the result instead of covering it. Edits of
 * different requests do not wait for each other.
 */
export class MessageEdits {
  private readonly last = new Map<string, Promise<unknown>>();

  run<T>(requestId: string, edit: () => Promise<T>): Promise<T> {
    const before = this.last.get(requestId) ?? Promise.resolve();
    const result = before.then(edit);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.last.set(requestId, settled);
    void settled.then(() => {
      if (this.last.get(requestId) === settled) this.last.delete(requestId);
    });
    return result;
  }
}
