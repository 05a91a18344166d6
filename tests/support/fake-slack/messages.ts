/** How messages and files look on the wire. */
import type { FakeSlackState, StoredFile, StoredMessage } from './state.js';

export function filePaths(file: Pick<StoredFile, 'id' | 'teamId' | 'name'>): { view: string; download: string } {
  const base = `/files-pri/${file.teamId}-${file.id}`;
  return { view: `${base}/${encodeURIComponent(file.name)}`, download: `${base}/download/${encodeURIComponent(file.name)}` };
}

/** A file object as `files.info`, message `files` arrays and event payloads carry it. */
export function apiFile(state: FakeSlackState, file: StoredFile) {
  const paths = filePaths(file);
  const domain = state.team(file.teamId)?.domain ?? 'fake';
  const extension = file.name.includes('.') ? (file.name.split('.').pop() ?? '') : '';
  return {
    id: file.id,
    created: Math.floor(file.createdAt / 1000),
    timestamp: Math.floor(file.createdAt / 1000),
    name: file.name,
    title: file.title,
    mimetype: file.mimetype,
    filetype: extension,
    pretty_type: extension.toUpperCase(),
    user: file.userId,
    user_team: file.teamId,
    editable: false,
    size: file.bytes?.length ?? file.declaredLength ?? 0,
    mode: 'hosted',
    is_external: false,
    external_type: '',
    is_public: true,
    public_url_shared: false,
    url_private: `${state.baseUrl}${paths.view}`,
    url_private_download: `${state.baseUrl}${paths.download}`,
    permalink: `https://${domain}.slack.com/files/${file.userId}/${file.id}/${encodeURIComponent(file.name)}`,
    channels: file.channels,
    groups: [],
    ims: [],
  };
}

/** A message as the Web API and events carry it. */
export function apiMessage(state: FakeSlackState, message: StoredMessage) {
  const files = message.fileIds.flatMap((id) => {
    const file = state.files.get(id);
    return file ? [apiFile(state, file)] : [];
  });
  const last = message.revisions.at(-1);
  const edited = message.revisions.length > 1 && last ? { edited: { user: message.user, ts: (last.at / 1000).toFixed(6) } } : {};
  return {
    type: 'message',
    ts: message.ts,
    user: message.user,
    team: message.teamId,
    text: message.text,
    ...(message.botId !== undefined ? { bot_id: message.botId } : {}),
    ...(message.blocks !== undefined ? { blocks: message.blocks } : {}),
    ...(message.threadTs !== undefined ? { thread_ts: message.threadTs } : {}),
    ...(message.subtype !== undefined ? { subtype: message.subtype } : {}),
    ...(files.length > 0 ? { files, upload: true } : {}),
    ...edited,
  };
}
