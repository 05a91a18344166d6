import { apiAttachment, type StoredMessage } from './messages.js';
import type { FakeState } from './state.js';
import { apiUser, type FakeUser } from './world.js';

const MESSAGE_DEFAULT = 0;
const MESSAGE_CHAT_INPUT_COMMAND = 20;
const MESSAGE_CONTEXT_MENU_COMMAND = 23;
const COMMAND_TYPE_MESSAGE = 3;

/** The bot, or the member who posted it (messages a test posted as a user). */
function authorOf(state: FakeState, message: StoredMessage): FakeUser {
  if (message.authorId === state.bot.id) return state.bot;
  return state.guilds.flatMap((guild) => guild.members).find((member) => member.user.id === message.authorId)?.user ?? state.bot;
}

/** A stored message as the REST API and gateway return it. */
export function apiMessage(state: FakeState, message: StoredMessage) {
  const interaction = message.interactionId ? state.interactions.get(message.interactionId) : undefined;
  return {
    id: message.id,
    type: !interaction ? MESSAGE_DEFAULT : (interaction.payload.data as { type?: number }).type === COMMAND_TYPE_MESSAGE ? MESSAGE_CONTEXT_MENU_COMMAND : MESSAGE_CHAT_INPUT_COMMAND,
    channel_id: message.channelId,
    ...(message.guildId ? { guild_id: message.guildId } : {}),
    author: apiUser(authorOf(state, message)),
    content: message.content,
    timestamp: new Date(message.createdAt).toISOString(),
    edited_timestamp: message.editedAt === undefined ? null : new Date(message.editedAt).toISOString(),
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: message.attachments.map(apiAttachment),
    embeds: message.embeds,
    components: message.components,
    pinned: false,
    flags: message.flags,
    ...(message.webhookId ? { webhook_id: message.webhookId, application_id: state.applicationId } : {}),
    ...(interaction
      ? {
          interaction_metadata: {
            id: interaction.id,
            type: interaction.payload.type,
            user: (interaction.payload.member as { user: unknown }).user,
            authorizing_integration_owners: interaction.payload.authorizing_integration_owners,
          },
        }
      : {}),
  };
}
