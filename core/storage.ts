import type { Config } from './config.js';
import { LocalStorage } from './storage/local.js';
import { S3Storage } from './storage/s3.js';

export * from './storage/contract.js';
export { LocalStorage } from './storage/local.js';
export { S3Storage, attachmentDisposition, contentTypeOf, type S3StorageOptions } from './storage/s3.js';

/** The storage a deployment can be configured with; `kind` tells them apart. */
export type ConfiguredStorage = LocalStorage | S3Storage;

/** The storage the settings name: a bucket with STORAGE_URL, else the directory STORAGE_DIR. */
export function createStorage(config: Pick<Config, 'storage'>): ConfiguredStorage {
  const settings = config.storage;
  if (settings.kind === 'local') return new LocalStorage(settings.dir);
  return new S3Storage(settings);
}
