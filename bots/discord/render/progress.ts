import { ActionRowBuilder, AttachmentBuilder, ButtonBuilder, ButtonStyle, type BaseMessageOptions } from 'discord.js';
import type { PreviewView, ProgressView } from '../../chat/message-view.js';
import { previewPostedText, progressLine } from '../../chat/progress-text.js';
import { escapeUserText } from './user-text.js';

/** `cancel:<request id>`: 43 characters, inside Discord's 100-character custom_id limit. */
export const cancelButtonId = (requestId: string): string => `cancel:${requestId}`;

const cancelRow = (requestId: string) => new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(cancelButtonId(requestId)).setLabel('Cancel').setStyle(ButtonStyle.Secondary));

/** The progress message: stage, a bar, ETA, and a Cancel button. */
export function renderProgress(view: ProgressView): BaseMessageOptions {
  return { content: `**${escapeUserText(view.title)}**\n${progressLine(view)}`, components: [cancelRow(view.requestId)] };
}

/**
 * The progress message once the preview is out: the excerpt's stems attached (later progress edits
 * keep them; the result's stems replace them), and still a Cancel button.
 */
export function renderPreview(view: PreviewView): BaseMessageOptions {
  return {
    content: `**${escapeUserText(view.title)}**\n${previewPostedText(view)}`,
    components: [cancelRow(view.requestId)],
    files: view.files.map((file) => new AttachmentBuilder(file.path, { name: file.name })),
  };
}
