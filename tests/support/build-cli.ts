import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Vitest global setup: builds the project once, as `npm run build` does (the stems page's assets
 * included), so CLI tests run the same `dist/stembot.js` that `npx stembot` runs, not a
 * loader-wrapped copy of the sources.
 */
export default function buildCli(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}
