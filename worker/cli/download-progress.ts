import cliProgress from 'cli-progress';
import type { DownloadProgress } from '../engine/model-fetch.js';

const MIB = 1024 * 1024;

/** A cli-progress bar (on stderr, where it cannot pollute piped output) driven by download callbacks. */
export function downloadBar(stream: NodeJS.WritableStream, label: string): { onProgress: (p: DownloadProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | ETA {eta_formatted}`,
      formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? (value / MIB).toFixed(1) : String(value)),
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress(p) {
      if (!started) {
        bar.start(p.totalBytes ?? 0, p.resumedFrom);
        started = true;
      }
      if (p.totalBytes !== undefined && p.totalBytes !== bar.getTotal()) bar.setTotal(p.totalBytes);
      bar.update(p.receivedBytes);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function formatMiB(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
