/** The workspaces, users and conversations the fake knows, and how they look on the wire. */

/** The app's bot in one workspace. A workspace that has not installed the app has no token yet. */
export interface FakeBot {
  /** `U…`: the bot user, the author of what the app posts. */
  userId: string;
  /** `B…`: what `auth.test` calls `bot_id`, and messages carry as `bot_id`. */
  botId: string;
  /** `xoxb-…`; undefined until the workspace installs the app (through OAuth). */
  token?: string;
  /** Granted bot scopes, e.g. `chat:write`, `files:read`, `chat:write.public`. */
  scopes: string[];
}

export interface FakeTeam {
  id: string;
  name: string;
  /** `acme` for acme.slack.com. */
  domain: string;
  bot: FakeBot;
}

export interface FakeSlackUser {
  id: string;
  teamId: string;
  name: string;
  /** Workspace admin. */
  isAdmin?: boolean;
  /** Workspace owner (owners are admins too on the wire). */
  isOwner?: boolean;
  isBot?: boolean;
}

export interface FakeConversation {
  id: string;
  teamId: string;
  name: string;
  /** User ids; the bot's user id when it was invited. */
  members: string[];
  /** A direct message between a user and the bot (id `D…`). */
  isIm?: boolean;
  isPrivate?: boolean;
}

export interface FakeWorld {
  teams: FakeTeam[];
  users: FakeSlackUser[];
  conversations: FakeConversation[];
}

/** Every bot scope stembot asks for; what an install grants when the authorize URL names none. */
export const BOT_SCOPES = ['app_mentions:read', 'channels:history', 'channels:read', 'chat:write', 'commands', 'files:read', 'files:write', 'groups:history', 'im:history', 'users:read'];

/**
 * Two workspaces, ids fixed so tests can name them:
 * - Acme (T0ACME): installed with token `xoxb-acme-fake`; alice (owner), adam (admin), bob (member);
 *   #general (bot a member), #random (bot not a member), a DM alice ↔ bot.
 * - Globex (T0GLOBEX): installed with `xoxb-globex-fake`; gina (owner), #general.
 */
export function defaultWorld(): FakeWorld {
  return {
    teams: [
      { id: 'T0ACME', name: 'Acme', domain: 'acme', bot: { userId: 'U0ACMEBOT', botId: 'B0ACMEBOT', token: 'xoxb-acme-fake', scopes: [...BOT_SCOPES] } },
      { id: 'T0GLOBEX', name: 'Globex', domain: 'globex', bot: { userId: 'U0GLOBEXBOT', botId: 'B0GLOBEXBOT', token: 'xoxb-globex-fake', scopes: [...BOT_SCOPES] } },
    ],
    users: [
      { id: 'U0ACMEBOT', teamId: 'T0ACME', name: 'stembot', isBot: true },
      { id: 'U0ALICE', teamId: 'T0ACME', name: 'alice', isOwner: true, isAdmin: true },
      { id: 'U0ADAM', teamId: 'T0ACME', name: 'adam', isAdmin: true },
      { id: 'U0BOB', teamId: 'T0ACME', name: 'bob' },
      { id: 'U0GLOBEXBOT', teamId: 'T0GLOBEX', name: 'stembot', isBot: true },
      { id: 'U0GINA', teamId: 'T0GLOBEX', name: 'gina', isOwner: true, isAdmin: true },
    ],
    conversations: [
      { id: 'C0ACMEGEN', teamId: 'T0ACME', name: 'general', members: ['U0ACMEBOT', 'U0ALICE', 'U0ADAM', 'U0BOB'] },
      { id: 'C0ACMERND', teamId: 'T0ACME', name: 'random', members: ['U0ALICE', 'U0BOB'] },
      { id: 'D0ACMEALICE', teamId: 'T0ACME', name: 'U0ALICE', members: ['U0ALICE', 'U0ACMEBOT'], isIm: true },
      { id: 'C0GLOBEXGEN', teamId: 'T0GLOBEX', name: 'general', members: ['U0GLOBEXBOT', 'U0GINA'] },
    ],
  };
}

/** `users.info`'s `user`. */
export function apiUser(user: FakeSlackUser, team: FakeTeam) {
  return {
    id: user.id,
    team_id: user.teamId,
    name: user.name,
    real_name: user.name,
    deleted: false,
    is_admin: Boolean(user.isAdmin || user.isOwner),
    is_owner: Boolean(user.isOwner),
    is_primary_owner: Boolean(user.isOwner),
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: Boolean(user.isBot),
    is_app_user: false,
    tz: 'Europe/Berlin',
    profile: { real_name: user.name, display_name: user.name, team: team.id, ...(user.isBot ? { bot_id: team.bot.botId } : {}) },
  };
}

/** `conversations.info`'s `channel`. */
export function apiConversation(conversation: FakeConversation, botUserId: string) {
  const im = Boolean(conversation.isIm);
  return {
    id: conversation.id,
    name: im ? undefined : conversation.name,
    is_channel: !im && !conversation.isPrivate,
    is_group: !im && Boolean(conversation.isPrivate),
    is_im: im,
    is_private: im || Boolean(conversation.isPrivate),
    is_member: conversation.members.includes(botUserId),
    is_archived: false,
    context_team_id: conversation.teamId,
    ...(im ? { user: conversation.members.find((m) => m !== botUserId) } : { num_members: conversation.members.length }),
  };
}
