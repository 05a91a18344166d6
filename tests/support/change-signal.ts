import { EventEmitter } from 'node:events';

/** What a fake's state tells tests: "something changed", and a wait for a condition on it. */
export class ChangeSignal {
  private readonly changes = new EventEmitter();

  constructor() {
    // Every pending waitFor listens here; a test may have hundreds in flight.
    this.changes.setMaxListeners(0);
  }

  notify(): void {
    this.changes.emit('change');
  }

  /** Resolves once `predicate` returns a value, checking again after every change. */
  waitFor<T>(predicate: () => T | undefined | false): Promise<T> {
    const now = predicate();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const check = () => {
        const value = predicate();
        if (!value) return;
        this.changes.off('change', check);
        resolve(value);
      };
      this.changes.on('change', check);
    });
  }
}
