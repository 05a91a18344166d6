import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ModelFetchState, WorkerState } from '../core/db/entities/worker-presence.js';
import type { Logger } from '../core/logging.js';
import type { WorkerAnnouncement, WorkerDirectory } from '../core/workers/worker-directory.js';

type Device = WorkerAnnouncement['device'];

/** What a worker says of itself and may change while it runs. */
export interface PresenceState {
  state: WorkerState;
  device: Device;
  models: string[];
  fetching: ModelFetchState[];
}

/** Unique per process, and readable: which machine and which process. */
export function newWorkerId(): string {
  return `${hostname().slice(0, 150)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Announces this worker in the database now and every heartbeat, so core knows which models some
 * worker serves and `stembot status` can list it; a worker that dies simply stops announcing and
 * drops out after two heartbeats. A failed write is retried at the next beat.
 */
export class PresenceBeacon {
  private current: PresenceState = { state: 'fetching', device: 'unknown', models: [], fetching: [] };
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failing = false;
  private stopped = false;

  constructor(
    private readonly directory: WorkerDirectory,
    private readonly identity: { id: string; host: string; concurrency: number },
    private readonly everySeconds: number,
    private readonly logger: Logger,
  ) {}

  get id(): string {
    return this.identity.id;
  }

  /** Announces at once and then every heartbeat. */
  async start(initial: Partial<PresenceState>): Promise<void> {
    this.current = { ...this.current, ...initial };
    await this.directory.forgetDead().catch(() => undefined);
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.everySeconds * 1000);
    this.timer.unref();
  }

  /** A new state is written at once; download progress rides on the next beat unless `now`. */
  async update(change: Partial<PresenceState>, now = true): Promise<void> {
    this.current = { ...this.current, ...change };
    if (now) await this.beat();
  }

  /** Leaves the directory at once: nobody counts on a worker that is shutting down. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.writing;
    await this.directory.remove(this.identity.id).catch((error: unknown) => this.logger.warn({ err: (error as Error).message }, 'could not remove this worker from the directory; it expires by itself'));
  }

  private beat(): Promise<void> {
    // One write at a time, in order: a slow database must not let an old state overwrite a new one.
    this.writing = this.writing.then(async () => {
      if (this.stopped) return;
      try {
        await this.directory.announce({ ...this.identity, ...this.current, ttlSeconds: this.everySeconds * 2 });
        if (this.failing) this.logger.info('worker heartbeat written again');
        this.failing = false;
      } catch (error) {
        if (!this.failing) this.logger.warn({ err: (error as Error).message }, 'worker heartbeat could not be written; trying again at the next beat');
        this.failing = true;
      }
    });
    return this.writing;
  }
}
