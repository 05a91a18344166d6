import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The compiled CLI, as `npx stembot` runs it; tests/support/build-cli.ts builds it before the suite. */
const ENTRY = fileURLToPath(new URL('../../dist/stembot.js', import.meta.url));

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns Node with `args`, collecting what it prints. */
function spawnNode(args: string[], options: { cwd?: string; env: Record<string, string>; detached?: boolean }): CliRun {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/**
 * Runs the stembot CLI in `cwd` with exactly the environment given, plus PATH and HOME, and
 * WEB_PORT=0 unless given: test files run side by side, and two web roles cannot share port 8080.
 */
export function runStembot(args: string[], options: { cwd: string; env?: Record<string, string>; detached?: boolean }): CliRun {
  return spawnNode([ENTRY, ...args], { cwd: options.cwd, env: { WEB_PORT: '0', ...options.env }, detached: options.detached });
}

/** Resolves when a line of the child's stdout contains `text`. */
export async function waitForOutput(run: CliRun, text: string): Promise<void> {
  if (run.stdout().includes(text)) return;
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (run.stdout().includes(text)) {
        run.child.stdout?.off('data', onData);
        resolve();
      }
    };
    run.child.stdout?.on('data', onData);
    void run.exited.then(({ code }) => reject(new Error(`stembot exited (${code}) before printing "${text}":\n${run.stdout()}\n${run.stderr()}`)));
  });
}

/** Runs a TypeScript test-support script in its own Node process (tsx's loader, resolved absolutely). */
export function runScript(script: string, args: string[], env: Record<string, string>): CliRun {
  return spawnNode(['--import', import.meta.resolve('tsx'), fileURLToPath(new URL(script, import.meta.url)), ...args], { env });
}
