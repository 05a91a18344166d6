import { ActionRowBuilder, ButtonBuilder, ButtonStyle, type BaseMessageOptions } from 'discord.js';
import type { JobStage } from '../../../core/queue/jobs.js';
import { escapeUserText } from './user-text.js';

export type ProgressStage = JobStage | 'queued' | 'uploading';

export interface ProgressView {
  requestId: string;
  /** As the source gave it (user-controlled): escaped here. */
  title: string;
  stage: ProgressStage;
  fraction: number;
  etaSeconds?: number;
  /** Separations ahead in the queue, while queued. */
  position?: number;
}

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

export function progressBar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
}

function formatEta(seconds: number): string {
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** `cancel:<request id>`: 43 characters, inside Discord's 100-character custom_id limit. */
export const cancelButtonId = (requestId: string): string => `cancel:${requestId}`;

/** The progress message: stage, a bar, ETA, and a Cancel button. */
export function renderProgress(view: ProgressView): BaseMessageOptions {
  const label = view.stage === 'queued' && view.position !== undefined ? `Queued (${view.position === 0 ? 'next up' : `${view.position} ahead`})` : STAGE_LABELS[view.stage];
  const percent = Math.round(view.fraction * 100);
  const eta = view.etaSeconds !== undefined && view.stage !== 'queued' ? ` · about ${formatEta(view.etaSeconds)} left` : '';
  return {
    content: `**${escapeUserText(view.title)}**\n${label} ${progressBar(view.fraction)} ${percent}%${eta}`,
    components: [new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(cancelButtonId(view.requestId)).setLabel('Cancel').setStyle(ButtonStyle.Secondary))],
  };
}
