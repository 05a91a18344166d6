import { MessageFlags, SlashCommandBuilder } from 'discord.js';
import type { DiscordCommand } from './command.js';

const HELP = [
  '**stembot** splits songs into vocals, drums, bass and other.',
  '`/separate link:https://youtu.be/dQw4w9WgXcQ` — all four stems as mp3',
  '`/separate link:<link> stems:Karaoke format:flac` — vocals + accompaniment',
  'A long song gets a short preview first, attached while the rest runs; `preview:False` skips it.',
  '`/separate file:<upload>` — your own audio file',
  '`/jobs` — your recent separations · `/cancel` — stop your latest one',
  '`/quota show` — this server’s limits · admins: `/quota-admin set daily_minutes 120` · `/status` — the bot’s workers and queue',
].join('\n');

export const helpCommand: DiscordCommand = {
  definition: new SlashCommandBuilder().setName('help').setDescription('How to use stembot').toJSON(),
  async execute(interaction) {
    await interaction.reply({ content: HELP, flags: MessageFlags.Ephemeral });
  },
};
