import type { PreviewSpan, ProgressStage, ProgressView } from './message-view.js';

const STAGE_LABELS: Record<ProgressStage, string> = {
  queued: 'Queued',
  downloading: 'Downloading',
  previewing: 'Separating a preview',
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

/** `m:ss`, as players show a position in a song. */
function clockTime(seconds: number): string {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** Where the preview lies in the song, e.g. `1:10–1:40`. */
export function spanText({ startSeconds, durationSeconds }: PreviewSpan): string {
  return `${clockTime(startSeconds)}–${clockTime(startSeconds + durationSeconds)}`;
}

/** What a request's message says once its preview is out: `Preview (1:10–1:40) posted; separating the whole song…`. */
export function previewPostedText(span: PreviewSpan, stage: ProgressStage = 'separating'): string {
  const next = stage === 'separating' || stage === 'previewing' ? 'separating the whole song…' : STAGE_LABELS[stage].toLowerCase();
  return `Preview (${spanText(span)}) posted; ${next}`;
}

function formatEta(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function stageLabel(view: ProgressView): string {
  if (view.stage === 'queued' && view.position !== undefined) return `Queued (${view.position === 0 ? 'next up' : `${view.position} ahead`})`;
  return view.preview ? previewPostedText(view.preview, view.stage) : STAGE_LABELS[view.stage];
}

/** The stage and how far it is, with no markup: `Separating ██████████░░░░░░░░░░ 50% · about 1 min 15 s left`. */
export function progressLine(view: ProgressView): string {
  const label = stageLabel(view);
  const eta = view.etaSeconds !== undefined && view.stage !== 'queued' ? ` · about ${formatEta(view.etaSeconds)} left` : '';
  return `${label} ${progressBar(view.fraction)} ${Math.round(view.fraction * 100)}%${eta}`;
}
