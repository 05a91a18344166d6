import type { ProgressStage, ProgressView } from './message-view.js';

const STAGE_LABELS: Record<ProgressStage, string> = {
  queued: 'Queued',
  downloading: 'Downloading',
  separating: 'Separating',
  encoding: 'Encoding',
  storing: 'Storing',
  rendering: 'Preparing files',
  uploading: 'Uploading',
};

const BAR_WIDTH = 20;

/** A bar of block characters: plain text, so every platform shows it as is. */
export function progressBar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
}

function formatEta(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** The stage and how far it is, with no markup: `Separating ██████████░░░░░░░░░░ 50% · about 1 min 15 s left`. */
export function progressLine(view: ProgressView): string {
  const label = view.stage === 'queued' && view.position !== undefined ? `Queued (${view.position === 0 ? 'next up' : `${view.position} ahead`})` : STAGE_LABELS[view.stage];
  const eta = view.etaSeconds !== undefined && view.stage !== 'queued' ? ` · about ${formatEta(view.etaSeconds)} left` : '';
  return `${label} ${progressBar(view.fraction)} ${Math.round(view.fraction * 100)}%${eta}`;
}
