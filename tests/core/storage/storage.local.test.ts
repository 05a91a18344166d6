import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalStorage } from '../../../core/storage.js';
import { describeStorageContract } from './storage-contract.js';

describeStorageContract('local', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'stembot-local-storage-'));
  return { storage: new LocalStorage(root), partBytes: 5 * 1024 * 1024, close: () => rm(root, { recursive: true, force: true }) };
});
