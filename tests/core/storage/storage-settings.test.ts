import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.js';
import { ConfigError } from '../../../core/errors.js';
import { createStorage, LocalStorage, S3Storage } from '../../../core/storage.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('storage settings', () => {
  it('store in STORAGE_DIR when STORAGE_URL is unset', () => {
    const config = parseConfig({ STORAGE_DIR: 'stems' });
    expect(config.storage).toEqual({ kind: 'local', dir: path.resolve('stems') });
    const storage = createStorage(config);
    expect(storage).toBeInstanceOf(LocalStorage);
    expect((storage as LocalStorage).root).toBe(path.resolve('stems'));
  });

  it('store in the bucket and under the prefix STORAGE_URL names, on AWS with its default credentials', () => {
    const config = parseConfig({ STORAGE_URL: 's3://stems.example/stembot/prod/' });
    expect(config.storage).toEqual({ kind: 's3', bucket: 'stems.example', prefix: 'stembot/prod', endpoint: undefined, region: 'us-east-1', credentials: undefined, forcePathStyle: false });
    expect(createStorage(config)).toBeInstanceOf(S3Storage);
    expect(parseConfig({ STORAGE_URL: 's3://stems' }).storage).toMatchObject({ bucket: 'stems', prefix: '' });
  });

  it('reach an S3-compatible service path-style unless told otherwise', () => {
    const env = { STORAGE_URL: 's3://stems', S3_ENDPOINT: 'http://minio:9000', S3_REGION: 'eu-west-3', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'secret' };
    expect(parseConfig(env).storage).toEqual({ kind: 's3', bucket: 'stems', prefix: '', endpoint: 'http://minio:9000', region: 'eu-west-3', credentials: { accessKeyId: 'id', secretAccessKey: 'secret' }, forcePathStyle: true });
    expect(parseConfig({ ...env, S3_FORCE_PATH_STYLE: 'false' }).storage).toMatchObject({ forcePathStyle: false });
    expect(parseConfig({ STORAGE_URL: 's3://stems', S3_FORCE_PATH_STYLE: 'true' }).storage).toMatchObject({ forcePathStyle: true });
  });

  it.each([
    [{ STORAGE_URL: 'file:///srv/stems' }, /^STORAGE_URL: expected s3:\/\/bucket\/optional\/prefix, like s3:\/\/my-bucket\/stembot: only S3-compatible object storage is supported \(leave STORAGE_URL unset to store files in STORAGE_DIR\)$/],
    [{ STORAGE_URL: 'gs://stems/stembot' }, /^STORAGE_URL: expected s3:\/\/bucket\/optional\/prefix/],
    [{ STORAGE_URL: 'https://stems.s3.amazonaws.com/x' }, /^STORAGE_URL: expected s3:\/\/bucket\/optional\/prefix/],
    [{ STORAGE_URL: 'stems/stembot' }, /^STORAGE_URL: expected a bucket URL like s3:\/\/my-bucket\/stembot$/],
    [{ STORAGE_URL: 's3://Stems_Bucket/x' }, /^STORAGE_URL: expected a bucket name of 3 to 63 lower-case letters/],
    [{ STORAGE_URL: 's3://stems/../etc' }, /^STORAGE_URL: expected a prefix of "\/"-separated folder names/],
    [{ STORAGE_URL: 's3://stems/a//b' }, /^STORAGE_URL: expected a prefix of "\/"-separated folder names/],
    [{ STORAGE_URL: 's3://stems:9000/x' }, /^STORAGE_URL: expected only a bucket and a prefix.*S3_ENDPOINT$/],
    [{ STORAGE_URL: 's3://stems/x', S3_ENDPOINT: 'minio:9000' }, /^S3_ENDPOINT: expected a URL/],
    [{ STORAGE_URL: 's3://stems/x', S3_FORCE_PATH_STYLE: 'yes' }, /^S3_FORCE_PATH_STYLE: expected true or false, got "yes"$/],
    [{ STORAGE_URL: 's3://stems/x', S3_ACCESS_KEY_ID: 'id' }, /^S3_SECRET_ACCESS_KEY: required when S3_ACCESS_KEY_ID is set$/],
    [{ STORAGE_URL: 's3://stems/x', S3_SECRET_ACCESS_KEY: 'secret' }, /^S3_ACCESS_KEY_ID: required when S3_SECRET_ACCESS_KEY is set$/],
    [{ S3_ENDPOINT: 'http://minio:9000' }, /^S3_ENDPOINT: only used with STORAGE_URL=s3:\/\/bucket\/prefix; set STORAGE_URL too, or unset S3_ENDPOINT/],
  ])('refuse %o, naming the variable', (env, message) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('never echo a secret key, nor a storage URL that might carry one', () => {
    const pasted = problemsOf({ STORAGE_URL: 's3://AKIAEXAMPLE:hunter2@stems/x', S3_SECRET_ACCESS_KEY: 'hunter3' });
    expect(pasted).toEqual(['STORAGE_URL: expected no credentials in the URL: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY']);
    const alone = problemsOf({ STORAGE_URL: 's3://stems/x', S3_SECRET_ACCESS_KEY: 'hunter3' });
    expect(alone.join('\n')).not.toMatch(/hunter/);
  });
});
