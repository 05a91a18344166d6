/** Time as the fake sees it: the 3 s reply window and the 15 min token lifetime are measured on it. */
export interface Clock {
  now(): number;
}

/**
 * Real time plus an offset the test moves forward. Real time keeps running (discord.js sleeps
 * for real on a 429), and `advance` lets a test jump past a protocol deadline without waiting.
 */
export class TestClock implements Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

const DISCORD_EPOCH_MS = 1_420_070_400_000n;

/** Snowflakes as Discord makes them: milliseconds since 2015 in the top bits, a counter below. */
export class SnowflakeFactory {
  private increment = 0n;

  constructor(private readonly clock: Clock) {}

  next(): string {
    const sinceEpoch = BigInt(this.clock.now()) - DISCORD_EPOCH_MS;
    this.increment = (this.increment + 1n) & 0xfffn;
    return ((sinceEpoch << 22n) | this.increment).toString();
  }
}
