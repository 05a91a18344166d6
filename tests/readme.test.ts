import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { envSchema } from '../core/config.js';
import { REPO_ROOT } from './support/cli.js';

interface JsonSchemaProperty {
  default?: unknown;
  description?: string;
}

/** The configuration table as the zod schema describes it: what the README must show. */
function settingsTable(): string {
  const schema = z.toJSONSchema(envSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, JsonSchemaProperty> };
  const rows = Object.entries(schema.properties).map(([name, property]) => {
    const fallback = property.default === undefined ? '' : `\`${String(property.default)}\``;
    return `| \`${name}\` | ${fallback} | ${property.description ?? ''} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');

describe('README', () => {
  it('documents every setting exactly as the configuration schema does', () => {
    const start = readme.indexOf('<!-- settings:start -->');
    const end = readme.indexOf('<!-- settings:end -->');
    expect(start, 'README.md needs <!-- settings:start --> and <!-- settings:end --> around the table').toBeGreaterThan(-1);
    const documented = readme.slice(start + '<!-- settings:start -->'.length, end).trim();
    expect(documented, `replace the README table with:\n${settingsTable()}`).toBe(settingsTable());
  });

  it('gives the quick start as exactly two commands', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1));
    const commands = [...quickStart.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => (block[1] ?? '').trim().split('\n'));
    expect(commands).toEqual(['npm ci && npx stembot start', 'npm test']);
  });
});

describe('.env.example', () => {
  it('names every setting', () => {
    const example = readFileSync(`${REPO_ROOT}.env.example`, 'utf8');
    const named = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]);
    expect(named.sort()).toEqual(Object.keys(envSchema.shape).sort());
  });
});
