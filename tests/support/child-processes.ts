import { readdir, readFile } from 'node:fs/promises';

/**
 * The pids of this test process' children running `command` (Linux /proc): a test that stops a
 * decode asserts that the ffmpeg it started is gone, not merely told to go.
 */
export async function childProcesses(command: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so it is read up to the last `)`.
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const close = stat.lastIndexOf(')');
    if (close < 0) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (comm === command && ppid === process.pid) pids.push(Number(entry));
  }
  return pids;
}
