/** Quota windows are calendar days and months in UTC, so "resets at" is the same for everyone. */
export interface QuotaWindow {
  start: Date;
  end: Date;
}

export function dayWindow(now: Date): QuotaWindow {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  return { start, end: new Date(start.getTime() + 24 * 3600 * 1000) };
}

export function monthWindow(now: Date): QuotaWindow {
  return {
    start: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
    end: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)),
  };
}
