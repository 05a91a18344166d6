import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { QuotaReport } from '../../../core/quotas/quota-service.js';
import { formatDuration } from '../../../core/quotas/quota-ledger.js';
import { requireGuild } from '../guards/manage-guild.js';
import { progressBar } from '../render/progress.js';
import type { DiscordCommand } from './command.js';

export function renderQuota(report: QuotaReport): string {
  const window = (label: string, used: number, limit: number, resetsAt: Date) =>
    `${label}: ${progressBar(limit > 0 ? used / limit : 1)} ${formatDuration(used)} of ${formatDuration(limit)} · resets <t:${Math.floor(resetsAt.getTime() / 1000)}:R>`;
  const { limits } = report;
  return [
    '**This server’s separation limits**',
    window('Today', report.day.usedSeconds, report.day.limitSeconds, report.day.resetsAt),
    window('This month', report.month.usedSeconds, report.month.limitSeconds, report.month.resetsAt),
    `Running now: ${report.activeJobs} of ${limits.concurrentJobs} · longest track: ${formatDuration(limits.maxTrackSeconds)} · wait between requests: ${formatDuration(limits.userCooldownSeconds)}`,
    `Models: ${limits.allowedModels.join(', ')}`,
    report.overridden.length > 0 ? `Set by this server’s admins: ${report.overridden.join(', ')}` : 'Using the bot’s default limits.',
  ].join('\n');
}

/** `/quota show`: for everyone. Changing limits is `/quota-admin` (Manage Server). */
export const quotaCommand: DiscordCommand = {
  definition: new SlashCommandBuilder()
    .setName('quota')
    .setDescription('This server’s separation limits and usage')
    .setContexts(0)
    .addSubcommand((s) => s.setName('show').setDescription('Usage, limits and when they reset'))
    .toJSON(),
  async execute(interaction, context) {
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const report = await context.core.quota.show({ platform: 'discord', externalId: requireGuild(interaction), name: interaction.guild?.name });
    await interaction.editReply({ content: renderQuota(report) });
  },
};
