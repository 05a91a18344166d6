import { describe, expect, it } from 'vitest';
import { defaultSourcesFor, findRegistryEntry, REGISTRY, registryEntrySchema } from '../../../worker/engine/registry.js';

describe('model registry', () => {
  it('describes htdemucs, htdemucs_ft and htdemucs_6s with demucs source order, rate and segment', () => {
    expect(REGISTRY.map((e) => e.name)).toEqual(['htdemucs', 'htdemucs_ft', 'htdemucs_6s']);
    for (const name of ['htdemucs', 'htdemucs_ft']) {
      expect(findRegistryEntry(name)).toMatchObject({ sources: ['drums', 'bass', 'other', 'vocals'], sampleRate: 44100, segment: 343980 });
    }
    expect(findRegistryEntry('htdemucs_6s')?.sources).toEqual(['drums', 'bass', 'other', 'vocals', 'guitar', 'piano']);
    expect(findRegistryEntry('mdx')).toBeUndefined();
  });

  it('pins every download to a checksum and an immutable revision or release', () => {
    for (const entry of REGISTRY) {
      if (!entry.url) continue;
      expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(entry.url).not.toContain('/resolve/main/');
      expect(entry.licence).toMatch(/^MIT/);
    }
  });

  it('rejects malformed entries', () => {
    const good = REGISTRY[0]!;
    expect(registryEntrySchema.safeParse({ ...good, name: '../evil' }).success).toBe(false);
    expect(registryEntrySchema.safeParse({ ...good, sha256: 'abc' }).success).toBe(false);
    expect(registryEntrySchema.safeParse({ ...good, url: 'ftp://example.com/x.onnx' }).success).toBe(false);
    expect(registryEntrySchema.safeParse({ ...good, contract: 'spectrogram' }).success).toBe(false);
  });

  it('defaults a model without metadata to htdemucs sources, or 6s ones for six outputs', () => {
    expect(defaultSourcesFor(undefined)).toEqual(['drums', 'bass', 'other', 'vocals']);
    expect(defaultSourcesFor(6)).toEqual(['drums', 'bass', 'other', 'vocals', 'guitar', 'piano']);
  });
});
