/** Builders for what Slack sends an app: slash commands, events, interactions. Each returns an `Inbound` for either receiver. */
import { randomBytes } from 'node:crypto';
import { apiMessage } from './messages.js';
import { mintResponseUrl } from './response-urls.js';
import type { Inbound } from './socket-mode.js';
import type { FakeSlackState, StoredMessage } from './state.js';
import type { FakeConversation, FakeSlackUser, FakeTeam } from './world.js';

/** The legacy verification token Slack still puts in payloads; Bolt ignores it. */
const VERIFICATION_TOKEN = 'fake-verification-token';

export interface SlashCommandSpec {
  /** With its slash: `/separate`, `/stembot`. */
  command: string;
  text?: string;
  /** The user id (its workspace is the command's). */
  user: string;
  channel: string;
}

export interface MessageShortcutSpec {
  callbackId: string;
  user: string;
  /** The message the shortcut was used on (see `FakeSlack.postAsUser`). */
  message: StoredMessage;
}

export interface BlockActionSpec {
  user: string;
  actionId: string;
  value?: string;
  blockId?: string;
  /** The message holding the button. */
  message: StoredMessage;
}

export class PayloadBuilder {
  constructor(
    private readonly state: FakeSlackState,
    private readonly appId: string,
  ) {}

  slashCommand(spec: SlashCommandSpec): Inbound {
    const { user, team, conversation } = this.where(spec.user, spec.channel);
    const responseUrl = mintResponseUrl(this.state, { teamId: team.id, channel: conversation.id, user: user.id });
    // Slack sends commands form-encoded: every value a string.
    const payload: Record<string, string> = {
      token: VERIFICATION_TOKEN,
      team_id: team.id,
      team_domain: team.domain,
      channel_id: conversation.id,
      channel_name: conversation.isIm ? 'directmessage' : conversation.name,
      user_id: user.id,
      user_name: user.name,
      command: spec.command,
      text: spec.text ?? '',
      api_app_id: this.appId,
      is_enterprise_install: 'false',
      response_url: responseUrl.url,
      trigger_id: this.triggerId(team),
    };
    return { type: 'slash_commands', payload };
  }

  messageShortcut(spec: MessageShortcutSpec): Inbound {
    const { user, team, conversation } = this.where(spec.user, spec.message.channel);
    const responseUrl = mintResponseUrl(this.state, { teamId: team.id, channel: conversation.id, user: user.id, messageTs: spec.message.ts });
    return {
      type: 'interactive',
      payload: {
        type: 'message_action',
        token: VERIFICATION_TOKEN,
        action_ts: this.state.nextTs(),
        team: { id: team.id, domain: team.domain },
        user: { id: user.id, username: user.name, name: user.name, team_id: team.id },
        channel: { id: conversation.id, name: conversation.isIm ? 'directmessage' : conversation.name },
        is_enterprise_install: false,
        enterprise: null,
        api_app_id: this.appId,
        callback_id: spec.callbackId,
        trigger_id: this.triggerId(team),
        response_url: responseUrl.url,
        message_ts: spec.message.ts,
        message: apiMessage(this.state, spec.message),
      },
    };
  }

  blockAction(spec: BlockActionSpec): Inbound {
    const { user, team, conversation } = this.where(spec.user, spec.message.channel);
    const responseUrl = mintResponseUrl(this.state, { teamId: team.id, channel: conversation.id, user: user.id, messageTs: spec.message.ts });
    const actionTs = this.state.nextTs();
    return {
      type: 'interactive',
      payload: {
        type: 'block_actions',
        user: { id: user.id, username: user.name, name: user.name, team_id: team.id },
        api_app_id: this.appId,
        token: VERIFICATION_TOKEN,
        container: { type: 'message', message_ts: spec.message.ts, channel_id: conversation.id, is_ephemeral: false },
        trigger_id: this.triggerId(team),
        team: { id: team.id, domain: team.domain },
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: conversation.id, name: conversation.isIm ? 'directmessage' : conversation.name },
        message: apiMessage(this.state, spec.message),
        state: { values: {} },
        response_url: responseUrl.url,
        actions: [
          {
            action_id: spec.actionId,
            block_id: spec.blockId ?? 'actions',
            text: { type: 'plain_text', text: spec.value ?? spec.actionId, emoji: true },
            ...(spec.value !== undefined ? { value: spec.value } : {}),
            type: 'button',
            action_ts: actionTs,
          },
        ],
      },
    };
  }

  /** `app_mention` for a message already in the channel (its text should hold `<@bot>`). */
  appMention(message: StoredMessage): Inbound {
    return this.eventCallback(message.teamId, { ...this.messageFields(message), type: 'app_mention' });
  }

  /** `message` for a message already in the channel or DM (`file_share` subtype when it carries files). */
  messageEvent(message: StoredMessage): Inbound {
    const conversation = this.state.conversation(message.teamId, message.channel);
    return this.eventCallback(message.teamId, {
      ...this.messageFields(message),
      type: 'message',
      channel_type: conversation?.isIm ? 'im' : conversation?.isPrivate ? 'group' : 'channel',
    });
  }

  appHomeOpened(userId: string): Inbound {
    const user = this.user(userId);
    const team = this.team(user.teamId);
    const dm = this.state.world.conversations.find((c) => c.teamId === team.id && c.isIm && c.members.includes(user.id));
    const home = this.state.homeViews.get(`${team.id}:${user.id}`);
    return this.eventCallback(team.id, {
      type: 'app_home_opened',
      user: user.id,
      channel: dm?.id ?? `D0${user.id}`,
      tab: 'home',
      event_ts: this.state.nextTs(),
      ...(home ? { view: home.view } : {}),
    });
  }

  /** The `url_verification` challenge Slack sends when the Request URL is saved (HTTP receiver only). */
  urlVerification(challenge = randomBytes(16).toString('hex')): Inbound {
    return { type: 'events_api', payload: { token: VERIFICATION_TOKEN, challenge, type: 'url_verification' } };
  }

  /** The Events API envelope around an event, as Slack wraps every one. */
  eventCallback(teamId: string, event: Record<string, unknown>): Inbound {
    const team = this.team(teamId);
    return {
      type: 'events_api',
      payload: {
        token: VERIFICATION_TOKEN,
        team_id: team.id,
        api_app_id: this.appId,
        event,
        type: 'event_callback',
        event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [{ enterprise_id: null, team_id: team.id, user_id: team.bot.userId, is_bot: true, is_enterprise_install: false }],
        is_ext_shared_channel: false,
        event_context: `4-${randomBytes(12).toString('base64url')}`,
      },
    };
  }

  private messageFields(message: StoredMessage) {
    const wire = apiMessage(this.state, message);
    return { ...wire, channel: message.channel, event_ts: message.ts, client_msg_id: randomBytes(16).toString('hex') };
  }

  private where(userId: string, channelId: string): { user: FakeSlackUser; team: FakeTeam; conversation: FakeConversation } {
    const user = this.user(userId);
    const team = this.team(user.teamId);
    const conversation = this.state.conversation(team.id, channelId);
    if (!conversation) throw new Error(`fake-slack: no conversation ${channelId} in ${team.id}`);
    return { user, team, conversation };
  }

  private user(id: string): FakeSlackUser {
    const user = this.state.world.users.find((u) => u.id === id);
    if (!user) throw new Error(`fake-slack: no user ${id}`);
    return user;
  }

  private team(id: string): FakeTeam {
    const team = this.state.team(id);
    if (!team) throw new Error(`fake-slack: no team ${id}`);
    return team;
  }

  private triggerId(team: FakeTeam): string {
    return `${Date.now()}.${team.id}.${randomBytes(16).toString('hex')}`;
  }
}
