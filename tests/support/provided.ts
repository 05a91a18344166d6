import type { ProvidedContext } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** An empty PGlite cluster to copy into embedded DATA_DIRs (embedded-template.ts). */
    pgliteTemplate: string;
    /** Where makeSong keeps the songs made this run, to copy rather than encode them again. */
    songCache: string;
  }
}

/**
 * What the suite's global setup (run-setup.ts) made for every test file; undefined outside a vitest
 * run (a script such as a benchmark), where callers make their own.
 */
export async function provided<K extends keyof ProvidedContext>(key: K): Promise<ProvidedContext[K] | undefined> {
  if (!process.env.VITEST) return undefined;
  const { inject } = await import('vitest');
  return inject(key);
}
