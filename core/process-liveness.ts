/**
 * Whether a process with this pid is running on this machine. Signal 0 checks without signalling;
 * EPERM means it exists but belongs to another user. Used to tell a dead holder's leftovers (a lock
 * file, a temp folder) from a live one's.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
