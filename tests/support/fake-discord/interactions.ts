import { randomBytes } from 'node:crypto';
import { apiAttachment, type StoredAttachment, type StoredMessage } from './messages.js';
import { apiMessage } from './api-message.js';
import type { FakeState, StoredCommand } from './state.js';
import { apiChannel, apiMember, permissionsIn } from './world.js';

export type OptionValue = string | number | boolean | StoredAttachment;

interface Where {
  /** Default: the first configured guild. */
  guildId?: string;
  /** Default: the guild's first channel. */
  channelId?: string;
  /** Default: the first member who is not the bot. */
  userId?: string;
  locale?: string;
}

interface CommandTarget {
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  /** Option types come from the registered command when there is one, else from the values. */
  options?: Record<string, OptionValue>;
}

export type InteractionSpec =
  | ({ type: 'command' } & CommandTarget & Where)
  | ({ type: 'autocomplete'; focused: string } & CommandTarget & Where)
  | ({ type: 'component'; customId: string; message: StoredMessage; componentType?: number; values?: string[] } & Where)
  /** Apps > `name` on `message` (a MESSAGE context-menu command); the channel defaults to the message's. */
  | ({ type: 'message-command'; name: string; message: StoredMessage } & Where);

export const InteractionType = { applicationCommand: 2, messageComponent: 3, autocomplete: 4 } as const;
export const CallbackType = { message: 4, deferredMessage: 5, deferredUpdate: 6, updateMessage: 7, autocompleteResult: 8, modal: 9 } as const;

const OptionType = { subcommand: 1, group: 2, string: 3, integer: 4, boolean: 5, number: 10, attachment: 11 } as const;

export interface RecordedCallback {
  type: number;
  data: unknown;
  at: number;
}

/**
 * One dispatched interaction and everything the bot answered: the handle a test awaits and reads.
 * `messages()` is what the invoking user sees (the reply, then follow-ups, in their latest state).
 */
export class FakeInteraction {
  readonly callbacks: RecordedCallback[] = [];
  original?: StoredMessage;
  readonly followups: StoredMessage[] = [];
  autocompleteChoices?: unknown[];
  modal?: unknown;

  constructor(
    private readonly state: FakeState,
    readonly payload: { id: string; token: string; type: number; channel_id: string; guild_id: string } & Record<string, unknown>,
    readonly dispatchedAt: number,
    /** The message a component sits on; type 6/7 callbacks and `@original` act on it. */
    readonly sourceMessage?: StoredMessage,
  ) {}

  get id(): string {
    return this.payload.id;
  }

  get token(): string {
    return this.payload.token;
  }

  get acknowledged(): boolean {
    return this.callbacks.length > 0;
  }

  messages(): StoredMessage[] {
    return [this.original, ...this.followups].filter((m): m is StoredMessage => m !== undefined && !m.deleted);
  }

  /** Resolves once `predicate` holds for this interaction. */
  waitFor(predicate: (interaction: FakeInteraction) => boolean): Promise<FakeInteraction> {
    return this.state.waitFor(() => predicate(this) && this);
  }

  /** Resolves once the reply is no longer "thinking…" (sent or edited with content). */
  waitForReply(): Promise<StoredMessage> {
    return this.state.waitFor(() => {
      const original = this.original;
      return original && original.revisions.some((r) => (r.flags & 128) === 0) ? original : undefined;
    });
  }
}

export function newInteractionToken(): string {
  return `aW50ZXJhY3Rpb24${randomBytes(48).toString('base64url')}`;
}

/** Builds an INTERACTION_CREATE payload with the fields discord.js 14 reads. */
export function buildInteraction(state: FakeState, spec: InteractionSpec): FakeInteraction {
  const guild = spec.guildId ? state.guild(spec.guildId) : state.guilds[0];
  if (!guild) throw new Error(`fake-discord: no guild ${spec.guildId ?? '(none configured)'}`);
  const channelId = spec.channelId ?? (spec.type === 'message-command' ? spec.message.channelId : undefined);
  const channel = channelId ? guild.channels.find((c) => c.id === channelId) : guild.channels[0];
  if (!channel) throw new Error(`fake-discord: no channel ${channelId ?? '(none)'} in guild ${guild.id}`);
  const member = spec.userId ? guild.members.find((m) => m.user.id === spec.userId) : guild.members.find((m) => !m.user.bot);
  if (!member) throw new Error(`fake-discord: no member ${spec.userId ?? '(non-bot)'} in guild ${guild.id}`);
  const memberPermissions = permissionsIn(guild, member.user.id, channel).toString();
  const appPermissions = permissionsIn(guild, state.bot.id, channel).toString();
  const payload = {
    id: state.ids.next(),
    application_id: state.applicationId,
    token: newInteractionToken(),
    version: 1,
    type: spec.type === 'command' || spec.type === 'message-command' ? InteractionType.applicationCommand : spec.type === 'component' ? InteractionType.messageComponent : InteractionType.autocomplete,
    data: spec.type === 'component' ? componentData(spec) : spec.type === 'message-command' ? messageCommandData(state, guild.id, spec) : commandData(state, guild.id, spec),
    guild_id: guild.id,
    guild: { id: guild.id, locale: 'en-US', features: [] },
    channel_id: channel.id,
    channel: { ...apiChannel(guild, channel, guild.channels.indexOf(channel)), permissions: memberPermissions },
    member: { ...apiMember(member), permissions: memberPermissions },
    app_permissions: appPermissions,
    locale: spec.locale ?? 'en-US',
    guild_locale: 'en-US',
    entitlements: [],
    authorizing_integration_owners: { '0': guild.id },
    context: 0,
    attachment_size_limit: state.limits.fileSizeLimit,
    ...(spec.type === 'component' ? { message: apiMessage(state, spec.message) } : {}),
  };
  const interaction = new FakeInteraction(state, payload, state.clock.now(), spec.type === 'component' ? spec.message : undefined);
  state.interactions.set(payload.id, interaction);
  return interaction;
}

function componentData(spec: Extract<InteractionSpec, { type: 'component' }>) {
  return { custom_id: spec.customId, component_type: spec.componentType ?? 2, ...(spec.values ? { values: spec.values } : {}) };
}

/** A MESSAGE command's data: the target message travels whole in `resolved.messages`, as on Discord. */
function messageCommandData(state: FakeState, guildId: string, spec: Extract<InteractionSpec, { type: 'message-command' }>) {
  const registered = [...(state.commands.get(guildId) ?? []), ...(state.commands.get('global') ?? [])].find((c) => c.name === spec.name && c.type === 3);
  return {
    id: registered?.id ?? state.ids.next(),
    name: spec.name,
    type: 3,
    ...(registered?.guild_id ? { guild_id: registered.guild_id } : {}),
    target_id: spec.message.id,
    resolved: { messages: { [spec.message.id]: apiMessage(state, spec.message) } },
  };
}

function commandData(state: FakeState, guildId: string, spec: CommandTarget & { focused?: string }) {
  const registered = [...(state.commands.get(guildId) ?? []), ...(state.commands.get('global') ?? [])].find((c) => c.name === spec.name);
  const attachments: Record<string, unknown> = {};
  const leafDefinitions = optionDefinitions(registered, spec);
  const leaves = Object.entries(spec.options ?? {}).map(([name, value]) => {
    if (typeof value === 'object') attachments[value.id] = apiAttachment(value);
    const type = leafDefinitions.find((d) => d.name === name)?.type ?? inferType(value);
    return { name, type, value: typeof value === 'object' ? value.id : value, ...(spec.focused === name ? { focused: true } : {}) };
  });
  let options: unknown[] = leaves;
  if (spec.subcommand) options = [{ name: spec.subcommand, type: OptionType.subcommand, options }];
  if (spec.subcommandGroup) options = [{ name: spec.subcommandGroup, type: OptionType.group, options }];
  return {
    id: registered?.id ?? state.ids.next(),
    name: spec.name,
    type: 1,
    ...(registered?.guild_id ? { guild_id: registered.guild_id } : {}),
    options,
    ...(Object.keys(attachments).length > 0 ? { resolved: { attachments } } : {}),
  };
}

interface OptionDefinition {
  name: string;
  type: number;
  options?: OptionDefinition[];
}

function optionDefinitions(command: StoredCommand | undefined, spec: CommandTarget): OptionDefinition[] {
  let level = (command?.options ?? []) as OptionDefinition[];
  for (const name of [spec.subcommandGroup, spec.subcommand]) {
    if (name) level = level.find((o) => o.name === name)?.options ?? [];
  }
  return level;
}

function inferType(value: OptionValue): number {
  if (typeof value === 'object') return OptionType.attachment;
  if (typeof value === 'boolean') return OptionType.boolean;
  if (typeof value === 'number') return Number.isInteger(value) ? OptionType.integer : OptionType.number;
  return OptionType.string;
}
