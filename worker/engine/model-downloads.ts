import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { findRegistryEntry, modelNameSchema, REGISTRY } from './registry.js';

/** Where one built-in model's file comes from, and the checksum that file must have. */
export interface ModelDownload {
  url: string;
  sha256: string;
  bytes?: number | undefined;
}

/**
 * A mirror's registry document (MODEL_REGISTRY_URL): new URLs and checksums for built-in models,
 * by name. It cannot add models: what the engine must know of one (sources, segment, contract)
 * stays the built-in registry's, so a mirror only changes where the bytes come from.
 */
const mirrorSchema = z.object({
  models: z.array(
    z.object({
      name: modelNameSchema,
      /** Absolute, or relative to the registry document's own URL. */
      url: z.string().min(1).max(2000),
      sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected a SHA-256 in hex'),
      bytes: z.number().int().positive().optional(),
    }),
  ),
});

/** A registry document is a few lines of JSON; anything bigger is not one. */
const MAX_REGISTRY_BYTES = 1024 * 1024;
const REGISTRY_TIMEOUT_MS = 30_000;

/** The built-in downloads, with a mirror's entries in their place when MODEL_REGISTRY_URL is set. */
export async function modelDownloads(registryUrl: string | undefined, fetchImpl: typeof fetch = fetch): Promise<Map<string, ModelDownload>> {
  const downloads = new Map<string, ModelDownload>();
  for (const entry of REGISTRY) {
    if (entry.url && entry.sha256) downloads.set(entry.name, { url: entry.url, sha256: entry.sha256, bytes: entry.bytes });
  }
  if (!registryUrl) return downloads;
  for (const entry of (await readMirror(registryUrl, fetchImpl)).models) {
    if (!findRegistryEntry(entry.name)) {
      throw new UserError('model_registry_invalid', `The model registry at ${registryUrl} lists ${entry.name}, which is not a built-in model; a registry can only move built-in models.`);
    }
    const url = new URL(entry.url, registryUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new UserError('model_registry_invalid', `The model registry at ${registryUrl} gives ${entry.name} a ${url.protocol} URL; only http and https are fetched.`);
    }
    downloads.set(entry.name, { url: url.href, sha256: entry.sha256.toLowerCase(), bytes: entry.bytes });
  }
  return downloads;
}

async function readMirror(registryUrl: string, fetchImpl: typeof fetch): Promise<z.infer<typeof mirrorSchema>> {
  const unreadable = (why: string, cause?: unknown) => new UserError('model_registry_invalid', `The model registry at ${registryUrl} could not be read: ${why}.`, { cause });
  let text: string;
  try {
    const response = await fetchImpl(registryUrl, { signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    if (!response.ok) throw unreadable(`the server answered HTTP ${response.status}`);
    if (Number(response.headers.get('content-length') ?? 0) > MAX_REGISTRY_BYTES) throw unreadable('it is too big to be a registry');
    text = await response.text();
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw unreadable((error as Error).message, error);
  }
  if (text.length > MAX_REGISTRY_BYTES) throw unreadable('it is too big to be a registry');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw unreadable('it is not JSON', error);
  }
  const parsed = mirrorSchema.safeParse(json);
  if (!parsed.success) throw unreadable(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; '));
  return parsed.data;
}
