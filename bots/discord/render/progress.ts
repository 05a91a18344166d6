import { ActionRowBuilder, ButtonBuilder, ButtonStyle, type BaseMessageOptions } from 'discord.js';
import type { ProgressView } from '../../chat/message-view.js';
import { progressLine } from '../../chat/progress-text.js';
import { escapeUserText } from './user-text.js';

/** `cancel:<request id>`: 43 characters, inside Discord's 100-character custom_id limit. */
export const cancelButtonId = (requestId: string): string => `cancel:${requestId}`;

/** The progress message: stage, a bar, ETA, and a Cancel button. */
export function renderProgress(view: ProgressView): BaseMessageOptions {
  return {
    content: `**${escapeUserText(view.title)}**\n${progressLine(view)}`,
    components: [new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(cancelButtonId(view.requestId)).setLabel('Cancel').setStyle(ButtonStyle.Secondary))],
  };
}
