/**
 * Lints the Dockerfile, compose.yaml and .dockerignore. The development machine has no Docker
 * engine (the CLI only, no compose or buildx plugin), so nothing here builds or runs an image:
 * the files are parsed (dockerfile-ast, yaml, @balena/dockerignore, which follow Docker's own
 * rules) and checked for the properties the deployment depends on. Where a property is behaviour
 * (the health check, onnxruntime-node's install flag) the real thing runs.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Ignore } from '@balena/dockerignore';
import { Cmd, Copy, DockerfileParser, Entrypoint, Env, Healthcheck, Volume, type Instruction } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { envSchema, ROLE_NAMES } from '../core/config.js';
import { REPO_ROOT } from './support/cli.js';

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const requireCjs = createRequire(import.meta.url);

// --- Dockerfile -------------------------------------------------------------------------------

interface Stage {
  name: string;
  /** The FROM argument: an image reference, or the name of an earlier stage. */
  base: string;
  parent: Stage | undefined;
  /** This stage's own instructions, FROM excluded. */
  own: Instruction[];
}

function parseStages(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    if (instruction.getKeyword() !== 'FROM') {
      stages.at(-1)?.own.push(instruction);
      continue;
    }
    const [base = '', as, name] = instruction.getArguments().map((argument) => argument.getValue());
    if (as?.toUpperCase() !== 'AS' || !name) throw new Error(`name every stage: FROM ${base} AS <name>`);
    stages.push({ name, base, parent: stages.find((stage) => stage.name === base), own: [] });
  }
  return stages;
}

const stages = parseStages(read('Dockerfile'));

function stage(name: string): Stage {
  const found = stages.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`the Dockerfile has no stage ${name} (stages: ${stages.map((s) => s.name).join(', ')})`);
  return found;
}

/** The instructions that made a stage's filesystem and configuration, its parents' first. */
const lineage = (of: Stage): Instruction[] => [...(of.parent ? lineage(of.parent) : []), ...of.own];

/** The image a stage finally rests on (a FROM naming a stage is followed to that stage's FROM). */
const baseImage = (of: Stage): string => (of.parent ? baseImage(of.parent) : of.base);

function envOf(of: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const instruction of lineage(of)) {
    if (instruction instanceof Env) for (const property of instruction.getProperties()) env.set(property.getName(), property.getValue() ?? '');
  }
  return env;
}

const runsOf = (instructions: Instruction[]) => instructions.filter((instruction) => instruction.getKeyword() === 'RUN').map((run) => run.getArgumentsContent() ?? '');

/**
 * A RUN line as the simple commands it chains with && or ;, each as words with its leading
 * VAR=value assignments apart. Enough for this Dockerfile's RUN lines, which quote nothing.
 */
function commandsOf(run: string): { assignments: Map<string, string>; words: string[] }[] {
  return run.split(/&&|\|\||;/).map((part) => {
    const tokens = part.trim().split(/\s+/).filter(Boolean);
    const assignments = new Map<string, string>();
    while (tokens[0] && /^[A-Za-z_][A-Za-z0-9_]*=/.test(tokens[0])) {
      const [name = '', ...value] = (tokens.shift() ?? '').split('=');
      assignments.set(name, value.join('='));
    }
    return { assignments, words: tokens };
  });
}

/** Every npm command run in a stage's lineage, with the ONNXRUNTIME_NODE_INSTALL it saw. */
function npmCommandsOf(of: Stage): { words: string[]; onnxInstall: string | undefined }[] {
  const found: { words: string[]; onnxInstall: string | undefined }[] = [];
  const walk = (current: Stage) => {
    if (current.parent) walk(current.parent);
    const stageEnv = envOf(current);
    for (const run of runsOf(current.own)) {
      for (const { assignments, words } of commandsOf(run)) {
        if (words[0] === 'npm') found.push({ words, onnxInstall: assignments.get('ONNXRUNTIME_NODE_INSTALL') ?? stageEnv.get('ONNXRUNTIME_NODE_INSTALL') });
      }
    }
  };
  walk(of);
  return found;
}

/** The stage a final image copies `what` (node_modules, dist) from. */
function copiedFrom(image: Stage, what: string): Stage {
  const copy = image.own.find(
    (instruction): instruction is Copy => instruction instanceof Copy && instruction.getArguments().some((argument) => argument.getValue().endsWith(`/${what}`)),
  );
  const from = copy?.getFromFlag()?.getValue();
  expect(from, `${image.name} copies ${what} from another stage`).toBeTruthy();
  return stage(from ?? '');
}

/** What onnxruntime-node's own install script makes of an ONNXRUNTIME_NODE_INSTALL value. */
function onnxInstallFlag(value: string | undefined): unknown {
  const { parseInstallFlag } = requireCjs('onnxruntime-node/script/install-utils.js') as { parseInstallFlag: () => unknown };
  const names = ['ONNXRUNTIME_NODE_INSTALL', 'ONNXRUNTIME_NODE_INSTALL_CUDA', 'npm_config_onnxruntime_node_install', 'npm_config_onnxruntime_node_install_cuda'];
  const saved = names.map((name) => [name, process.env[name]] as const);
  try {
    for (const name of names) delete process.env[name];
    if (value !== undefined) process.env.ONNXRUNTIME_NODE_INSTALL = value;
    return parseInstallFlag();
  } finally {
    for (const [name, before] of saved) {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    }
  }
}

function healthcheckOf(image: Stage): { flags: Map<string, string>; argv: string[] } {
  const healthcheck = lineage(image).findLast((instruction): instruction is Healthcheck => instruction instanceof Healthcheck);
  if (!healthcheck) throw new Error(`${image.name} has no HEALTHCHECK`);
  const flags = new Map(healthcheck.getFlags().map((flag) => [flag.getName(), flag.getValue() ?? '']));
  const content = healthcheck.getArgumentsContent() ?? '';
  const exec = content.slice(content.indexOf('CMD') + 'CMD'.length).trim();
  expect(exec.startsWith('['), `${image.name}: HEALTHCHECK CMD in exec form, not through a shell`).toBe(true);
  return { flags, argv: z.array(z.string()).parse(JSON.parse(exec)) };
}

function execFormOf(image: Stage, kind: typeof Entrypoint | typeof Cmd): string[] {
  const instruction = lineage(image).findLast((candidate): candidate is Entrypoint | Cmd => candidate instanceof kind);
  if (!instruction) throw new Error(`${image.name} has no ${kind.name.toUpperCase()}`);
  expect(instruction.getOpeningBracket(), `${image.name}: ${kind.name.toUpperCase()} in exec form (JSON), so signals reach node`).not.toBeNull();
  return instruction.getJSONStrings().map((argument) => argument.getJSONValue());
}

function volumesOf(image: Stage): string[] {
  return lineage(image)
    .filter((instruction): instruction is Volume => instruction instanceof Volume)
    .flatMap((volume) =>
      volume.getOpeningBracket() ? volume.getJSONStrings().map((argument) => argument.getJSONValue()) : volume.getArguments().map((argument) => argument.getValue()),
    );
}

const isUnder = (dir: string, mount: string) => dir === mount || dir.startsWith(`${mount.replace(/\/$/, '')}/`);

/** Runs the health check's `node -e` script against WEB_PORT; resolves with its exit code. */
function runHealthcheck(argv: string[], webPort: number): Promise<number | null> {
  const child = spawn(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH ?? '', WEB_PORT: String(webPort) }, stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

const runtime = stages.at(-1) as Stage;
const gpu = stage('gpu');
const finalImages = [runtime, gpu];
const settings = new Set(Object.keys(envSchema.shape));
/** Variables the images set for their tools rather than for stembot. */
const thirdPartyVariable = /^(ONNXRUNTIME_NODE_INSTALL|NPM_CONFIG_[A-Z_]+|YTDL_NO_UPDATE|YTDL_NO_DEBUG_FILE)$/;

describe('Dockerfile', () => {
  it('builds in a builder stage; the default target is a Node 20 slim runtime with no dev dependencies', () => {
    expect(runtime.name, '`docker build .` builds the last stage: make it the CPU runtime').toBe('runtime');
    expect(baseImage(runtime)).toMatch(/^node:20[.\d]*-([a-z]+-)?slim$/);

    const build = copiedFrom(runtime, 'dist');
    expect(runsOf(lineage(build))).toContain('npm run build');
    expect(copiedFrom(gpu, 'dist').name).toBe(build.name);

    for (const image of finalImages) {
      const installs = npmCommandsOf(copiedFrom(image, 'node_modules')).filter(({ words }) => words[1] === 'ci' || words[1] === 'install');
      expect(installs.length, `${image.name}: node_modules comes from an npm ci`).toBeGreaterThan(0);
      for (const { words } of installs) expect(words, `${image.name}: its node_modules are the production dependencies only`).toContain('--omit=dev');
      // The sources, tests and anything else in the context stay out: the image runs dist/.
      const fromContext = image.own.filter((instruction): instruction is Copy => instruction instanceof Copy && !instruction.getFromFlag());
      expect(fromContext.flatMap((copy) => copy.getArguments().slice(0, -1).map((argument) => argument.getValue()))).toEqual(['package.json']);
    }
  });

  it('installs ffmpeg without recommended packages and leaves no apt lists behind, in one layer', () => {
    for (const image of finalImages) {
      const run = runsOf(image.own).find((candidate) => commandsOf(candidate).some(({ words }) => words[0] === 'apt-get' && words[1] === 'install'));
      expect(run, `${image.name} installs ffmpeg with apt-get`).toBeDefined();
      const commands = commandsOf(run ?? '').map(({ words }) => words.join(' '));
      const install = commands.find((command) => command.startsWith('apt-get install')) ?? '';
      expect(install.split(' ')).toEqual(expect.arrayContaining(['-y', '--no-install-recommends', 'ffmpeg']));
      expect(commands[0], `${image.name}: apt-get update in the same RUN, so a cached layer never installs from stale lists`).toBe('apt-get update');
      expect(commands).toContain('rm -rf /var/lib/apt/lists/*');
    }
  });

  it('runs npm ci with onnxruntime-node\'s CUDA download skipped, and the CPU image never asks for it', () => {
    expect(onnxInstallFlag('skip'), 'onnxruntime-node still reads ONNXRUNTIME_NODE_INSTALL=skip as "skip"').toBe(false);
    const npmCommands = stages.flatMap((current) => npmCommandsOf(current));
    const cis = npmCommands.filter(({ words }) => words[1] === 'ci');
    expect(cis.length).toBeGreaterThan(0);
    for (const { words, onnxInstall } of cis) expect(onnxInstall, `${words.join(' ')} runs with ONNXRUNTIME_NODE_INSTALL=skip`).toBe('skip');
    for (const { words, onnxInstall } of npmCommandsOf(copiedFrom(runtime, 'node_modules'))) {
      expect(onnxInstall, `the CPU image's ${words.join(' ')} keeps the CUDA download skipped`).toBe('skip');
    }
  });

  it('builds the gpu target on CUDA 12 + cuDNN 9 with Node 20 and onnxruntime-node\'s CUDA provider', () => {
    const [, tag = ''] = baseImage(gpu).split(':');
    expect(baseImage(gpu)).toMatch(/^nvidia\/cuda:\d+\.\d+\.\d+-cudnn9?-runtime-ubuntu[\d.]+$/);
    // The provider onnxruntime-node downloads for Linux x64 must be for the base image's CUDA.
    const metadata = requireCjs('onnxruntime-node/script/install-metadata.js') as { requirements: Record<string, string[]> };
    expect(metadata.requirements['linux/x64']).toContain(`cuda${tag.split('.')[0]}`);

    const nodeBinary = gpu.own.find((instruction): instruction is Copy => instruction instanceof Copy && instruction.getArguments()[0]?.getValue() === '/usr/local/bin/node');
    expect(baseImage(stage(nodeBinary?.getFromFlag()?.getValue() ?? '')), 'the gpu image gets Node 20 from the official image').toMatch(/^node:20[.\d-]/);

    const deps = copiedFrom(gpu, 'node_modules');
    const installs = npmCommandsOf(deps).filter(({ words }) => ['ci', 'install', 'rebuild'].includes(words[1] ?? ''));
    const forced = installs.filter(({ onnxInstall }) => {
      const flag = onnxInstallFlag(onnxInstall);
      return flag === true || flag === 'cuda12';
    });
    expect(forced.map(({ words }) => words.join(' ')), 'an npm command that onnxruntime-node\'s install script reads as "download the CUDA provider"').toHaveLength(1);
    expect(runsOf(deps.own).join('\n'), 'the build fails when the provider did not arrive').toMatch(/test -f \S*linux\/x64\/libonnxruntime_providers_cuda\.so/);
    expect(envOf(gpu).get('ONNX_DEVICE')).toBe('cuda');
  });

  it('runs as a non-root user who owns the data volume', () => {
    for (const image of finalImages) {
      const user = lineage(image).findLast((instruction) => instruction.getKeyword() === 'USER')?.getArgumentsContent() ?? 'root';
      const [name = ''] = user.split(':');
      expect(['root', '0', ''], `${image.name}: USER ${user}`).not.toContain(name);
      const chowns = runsOf(image.own).flatMap((run) => commandsOf(run)).filter(({ words }) => words[0] === 'chown');
      const dataDir = envOf(image).get('DATA_DIR') ?? '?';
      expect(chowns.some(({ words }) => words.includes(user) && words.includes(dataDir)), `${image.name}: chown ${user} ${dataDir}, so new volumes start writable`).toBe(true);
    }
  });

  it('keeps DATA_DIR and TEMP_DIR on a volume, so the root filesystem can be read-only', () => {
    for (const image of finalImages) {
      const env = envOf(image);
      const volumes = volumesOf(image);
      for (const name of ['DATA_DIR', 'TEMP_DIR']) {
        const dir = env.get(name) ?? '';
        expect(path.isAbsolute(dir), `${image.name}: ${name}=${dir} is absolute`).toBe(true);
        expect(volumes.some((volume) => isUnder(dir, volume)), `${image.name}: ${name}=${dir} is on a VOLUME (${volumes.join(', ')})`).toBe(true);
      }
    }
  });

  it('checks /healthz with node itself (no curl or wget in the image), on WEB_PORT', async () => {
    for (const image of finalImages) {
      const { flags, argv } = healthcheckOf(image);
      expect(argv.slice(0, 2)).toEqual(['node', '-e']);
      expect(flags.get('timeout'), `${image.name}: HEALTHCHECK --timeout`).toBeTruthy();
    }
    const { argv } = healthcheckOf(runtime);
    expect(healthcheckOf(gpu).argv).toEqual(argv);

    let status = 200;
    const seen: { url: string | undefined; host: string | undefined }[] = [];
    const server = createServer((request, response) => {
      seen.push({ url: request.url, host: request.headers.host });
      response.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      expect(await runHealthcheck(argv, port)).toBe(0);
      status = 503;
      expect(await runHealthcheck(argv, port)).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await runHealthcheck(argv, port), 'nothing listening is unhealthy').toBe(1);
    // The web role answers localhost and 127.0.0.1 whatever WEB_ALLOWED_HOSTS says.
    expect(seen).toEqual([
      { url: '/healthz', host: `127.0.0.1:${port}` },
      { url: '/healthz', host: `127.0.0.1:${port}` },
    ]);
  });

  it('starts `node dist/stembot.js start` in exec form', () => {
    for (const image of finalImages) {
      expect(execFormOf(image, Entrypoint)).toEqual(['node', 'dist/stembot.js']);
      expect(execFormOf(image, Cmd)).toEqual(['start']);
    }
  });

  it('bakes in no secrets and sets only settings stembot knows', () => {
    for (const current of stages) {
      for (const instruction of current.own) {
        const names =
          instruction instanceof Env
            ? instruction.getProperties().map((property) => property.getName())
            : instruction.getKeyword() === 'ARG'
              ? instruction.getArguments().map((argument) => argument.getValue().split('=')[0] ?? '')
              : [];
        for (const name of names) {
          expect(name, `${current.name}: ${name} in the image`).not.toMatch(/TOKEN|SECRET|PASSWORD|_KEY$|DATABASE_URL|REDIS_URL/);
          expect(settings.has(name) || thirdPartyVariable.test(name), `${current.name}: ENV ${name} is not a stembot setting`).toBe(true);
        }
      }
    }
  });
});

// --- .dockerignore ----------------------------------------------------------------------------

describe('.dockerignore', () => {
  // Required, not imported: the package's types say `export default`, its code `module.exports =`.
  const dockerignore = requireCjs('@balena/dockerignore') as () => Ignore;
  const context = dockerignore().add(read('.dockerignore'));

  it('keeps node_modules, build output, data, tests, git and .env out of the build context', () => {
    const kept = [
      'node_modules/zod/package.json',
      'dist/stembot.js',
      'data/pglite/PG_VERSION',
      'separated/htdemucs/song/vocals.wav',
      'tests/docker.test.ts',
      '.git/HEAD',
      '.env',
      'coverage/index.html',
      'npm-debug.log',
    ];
    expect(kept.filter((file) => !context.ignores(file))).toEqual([]);
  });

  it('lets in every file the Dockerfile copies from the context', () => {
    const copied = stages.flatMap((current) => current.own.filter((instruction): instruction is Copy => instruction instanceof Copy && !instruction.getFromFlag()));
    const sources = [...new Set(copied.flatMap((copy) => copy.getArguments().slice(0, -1).map((argument) => argument.getValue())))];
    const files = sources.flatMap((source) => {
      const entries = readdirSync(path.join(REPO_ROOT, path.dirname(source)), { withFileTypes: true }).filter((entry) => entry.name === path.basename(source));
      expect(entries, `${source} exists`).toHaveLength(1);
      if (!entries[0]?.isDirectory()) return [source];
      return readdirSync(path.join(REPO_ROOT, source), { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => path.relative(REPO_ROOT, path.join(entry.parentPath, entry.name)));
    });
    expect(files.length).toBeGreaterThan(sources.length);
    expect(files.filter((file) => context.ignores(file))).toEqual([]);
  });
});

// --- compose.yaml -----------------------------------------------------------------------------

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
/** `environment` as a map; compose's list form (`- NAME=value`) is read into one too. */
const environmentSchema = z.union([
  z.record(z.string(), scalar.nullable()),
  z.array(z.string()).transform((list): Record<string, string> => Object.fromEntries(list.map((item) => [item.split('=')[0], item.split('=').slice(1).join('=')]))),
]);
const portSchema = z.union([z.string(), z.number().transform(String), z.looseObject({ target: z.number(), published: scalar.optional(), host_ip: z.string().optional() })]);
const deviceSchema = z.looseObject({ driver: z.string().optional(), capabilities: z.array(z.string()) });
const serviceSchema = z.looseObject({
  image: z.string().optional(),
  build: z.union([z.string().transform((context) => ({ context, target: undefined })), z.looseObject({ context: z.string(), target: z.string().optional() })]).optional(),
  command: z.union([z.string().transform((command) => command.split(/\s+/)), z.array(z.string())]).optional(),
  environment: environmentSchema.default({}),
  env_file: z.unknown().optional(),
  volumes: z.array(z.union([z.string(), z.looseObject({ type: z.string(), source: z.string().optional(), target: z.string() })])).default([]),
  tmpfs: z.union([z.string().transform((mount) => [mount]), z.array(z.string())]).default([]),
  ports: z.array(portSchema).optional(),
  depends_on: z.union([z.array(z.string()), z.record(z.string(), z.looseObject({ condition: z.string().optional() }))]).optional(),
  healthcheck: z.looseObject({ test: z.union([z.string(), z.array(z.string())]) }).optional(),
  read_only: z.boolean().optional(),
  profiles: z.array(z.string()).optional(),
  container_name: z.string().optional(),
  hostname: z.string().optional(),
  deploy: z.looseObject({ resources: z.looseObject({ reservations: z.looseObject({ devices: z.array(deviceSchema) }).optional() }).optional() }).optional(),
});
type Service = z.infer<typeof serviceSchema>;

// Compose applies YAML merge keys (`<<: *stembot`), so this parse does too.
const compose = z
  .looseObject({ services: z.record(z.string(), serviceSchema), volumes: z.record(z.string(), z.unknown().nullable()).default({}) })
  .parse(parseYaml(read('compose.yaml'), { merge: true }));
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  if (!found) throw new Error(`compose.yaml has no service ${name} (services: ${Object.keys(services).join(', ')})`);
  return found;
}

/** The services that run stembot: the ones built from this Dockerfile. */
const stembotServices = Object.entries(services).filter(([, candidate]) => candidate.build);
const gpuWorker = Object.entries(services).find(([, candidate]) => candidate.profiles?.includes('gpu'));

/** The image stage a service runs: its build target, else the Dockerfile's last stage. */
const imageStage = (of: Service): Stage => (of.build?.target ? stage(of.build.target) : runtime);

/** Environment as the container sees it: the image's ENV, then compose's `environment` over it. */
function containerEnv(of: Service): Map<string, string> {
  const env = envOf(imageStage(of));
  for (const [name, value] of Object.entries(of.environment)) if (value != null) env.set(name, value);
  return env;
}

function rolesOf(of: Service): string[] {
  const command = of.command ?? [];
  const flag = command.indexOf('--role');
  const roles = flag >= 0 ? command[flag + 1] : of.environment.ROLES;
  return (roles ?? 'all').split(',').map((role) => role.trim());
}

/** Paths with something writable mounted: compose volumes and tmpfs, and the image's VOLUMEs. */
function writableMounts(of: Service): { target: string; source: string | undefined }[] {
  const volumes = of.volumes.map((volume) => {
    if (typeof volume !== 'string') return { target: volume.target, source: volume.source };
    const parts = volume.split(':');
    return parts.length === 1 ? { target: parts[0] ?? '', source: undefined } : { target: parts[1] ?? '', source: parts[0] };
  });
  const tmpfs = of.tmpfs.map((mount) => ({ target: mount.split(':')[0] ?? '', source: undefined }));
  const image = volumesOf(imageStage(of)).map((target) => ({ target, source: undefined }));
  return [...volumes, ...tmpfs, ...image];
}

/** The innermost mount holding `dir`, as Docker resolves nested mounts. */
function mountHolding(of: Service, dir: string) {
  return writableMounts(of)
    .filter((mount) => isUnder(dir, mount.target))
    .sort((a, b) => b.target.length - a.target.length)[0];
}

describe('compose.yaml', () => {
  it('runs PostgreSQL and Redis with health checks, Redis never evicting a key', () => {
    const postgres = service('postgres');
    expect(postgres.image).toMatch(/^postgres:\d+/);
    expect(postgres.healthcheck?.test).toContain('pg_isready');
    const redis = service('redis');
    expect(redis.image).toMatch(/^redis:\d+/);
    expect(redis.healthcheck?.test).toEqual(expect.arrayContaining(['redis-cli', 'ping']));
    const command = redis.command ?? [];
    expect(command[command.indexOf('--maxmemory-policy') + 1], 'BullMQ loses jobs when Redis evicts keys').toBe('noeviction');
    for (const [name, stateful] of [['postgres', postgres], ['redis', redis]] as const) {
      const named = stateful.volumes.some((volume) => typeof volume === 'string' && Object.hasOwn(compose.volumes, volume.split(':')[0] ?? ''));
      expect(named, `${name} keeps its data in a named volume`).toBe(true);
    }
  });

  it('runs the bots, relay and web role in one service and workers in another', () => {
    expect(new Set(rolesOf(service('bots')))).toEqual(new Set(['relay', 'discord', 'slack', 'web']));
    expect(rolesOf(service('worker'))).toContain('worker');
    for (const [name, candidate] of stembotServices) {
      for (const role of rolesOf(candidate)) expect(ROLE_NAMES, `${name}: role ${role}`).toContain(role);
      // The image's health check asks the web role; a container without it would never be healthy.
      expect(rolesOf(candidate), `${name} runs the web role for its health check`).toContain('web');
    }
    const relays = stembotServices.filter(([, candidate]) => rolesOf(candidate).some((role) => role === 'relay' || role === 'all'));
    expect(relays.map(([name]) => name)).toEqual(['bots']);
  });

  it('lets the workers scale: no container name, host name or host port', () => {
    for (const [name, candidate] of stembotServices.filter(([, s]) => rolesOf(s).includes('worker'))) {
      expect(candidate.container_name, name).toBeUndefined();
      expect(candidate.hostname, name).toBeUndefined();
      expect(candidate.ports ?? [], `${name} publishes no port`).toEqual([]);
    }
  });

  it('starts stembot once PostgreSQL and Redis are healthy, and points it at them', () => {
    for (const [name, candidate] of stembotServices) {
      expect(candidate.depends_on, name).toMatchObject({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
      const env = containerEnv(candidate);
      expect(env.get('DATABASE_URL'), name).toMatch(/^postgres(ql)?:\/\/[^@]+@postgres(:5432)?\//);
      expect(env.get('REDIS_URL'), name).toMatch(/^redis:\/\/([^@]+@)?redis(:6379)?\/?$/);
      for (const [variable] of env) expect(settings.has(variable) || thirdPartyVariable.test(variable), `${name}: ${variable} is not a stembot setting`).toBe(true);
    }
  });

  it('runs stembot on a read-only root filesystem, writing only to volumes and tmpfs', () => {
    for (const [name, candidate] of stembotServices) {
      expect(candidate.read_only, name).toBe(true);
      expect(candidate.tmpfs.map((mount) => mount.split(':')[0]), `${name}: a tmpfs for the system temp directory`).toContain('/tmp');
      const env = containerEnv(candidate);
      for (const variable of ['DATA_DIR', 'TEMP_DIR', 'STORAGE_DIR', 'MODELS_DIR']) {
        const dir = env.get(variable);
        if (dir === undefined) continue;
        expect(mountHolding(candidate, dir), `${name}: ${variable}=${dir} is on a volume or tmpfs`).toBeDefined();
      }
    }
  });

  it('shares one stems volume between the bots and every worker', () => {
    const storageVolume = (of: Service) => {
      const env = containerEnv(of);
      const dir = env.get('STORAGE_DIR') ?? `${env.get('DATA_DIR')}/files`;
      return mountHolding(of, dir)?.source;
    };
    const shared = storageVolume(service('bots'));
    expect(shared, 'STORAGE_DIR is a named volume in bots').toBeTruthy();
    expect(Object.keys(compose.volumes)).toContain(shared);
    for (const [name, candidate] of stembotServices) expect(storageVolume(candidate), `${name} sees the stems the workers write`).toBe(shared);
  });

  it('publishes the web and Slack ports on loopback only; other containers reach the web role as `bots`', () => {
    const bots = service('bots');
    const env = containerEnv(bots);
    expect(env.get('WEB_HOST')).toBe('0.0.0.0');
    expect(env.get('WEB_ALLOWED_HOSTS')?.split(',').map((host) => host.trim())).toContain('bots');
    const ports = (bots.ports ?? []).map((port) => (typeof port === 'string' ? port : `${port.host_ip ?? ''}:${port.published ?? ''}:${port.target}`));
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port, 'bound to 127.0.0.1: a reverse proxy publishes what must be public').toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    expect(ports.map((port) => port.split(':')[2])).toEqual(expect.arrayContaining([env.get('WEB_PORT'), env.get('SLACK_PORT') ?? '3000']));
  });

  it('offers a `gpu` profile worker built from the gpu target that reserves an NVIDIA GPU', () => {
    expect(gpuWorker, 'a service with profiles: [gpu]').toBeDefined();
    const [name, worker] = gpuWorker ?? ['', service('worker')];
    expect(rolesOf(worker), name).toContain('worker');
    expect(baseImage(imageStage(worker)), `${name} is built from the CUDA stage`).toMatch(/^nvidia\/cuda:/);
    expect(worker.image, `${name} does not overwrite the CPU image's tag`).not.toBe(service('worker').image);
    const devices = worker.deploy?.resources?.reservations?.devices;
    expect(devices).toEqual(expect.arrayContaining([expect.objectContaining({ driver: 'nvidia', capabilities: expect.arrayContaining(['gpu']) })]));
    expect(containerEnv(worker).get('ONNX_DEVICE')).toBe('cuda');
    expect(service('worker').profiles, 'the CPU worker runs without a profile').toBeUndefined();
  });

  it('takes secrets from .env or the shell, never from the file itself', () => {
    const interpolation = /^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$/;
    for (const [name, candidate] of Object.entries(services)) {
      for (const [variable, value] of Object.entries(candidate.environment)) {
        if (value == null) continue;
        if (/TOKEN|SECRET|PASSWORD|_KEY$/.test(variable)) expect(value, `${name}: ${variable}`).toMatch(interpolation);
        if (/_URL$/.test(variable) && value.includes('@')) {
          const password = /^[a-z]+:\/\/[^:/@]+:(.*)@[^@]+$/.exec(value)?.[1] ?? value;
          expect(password, `${name}: the password in ${variable}`).toMatch(interpolation);
        }
      }
    }
    expect(service('postgres').environment.POSTGRES_PASSWORD, 'compose refuses to start without a password').toMatch(/^\$\{POSTGRES_PASSWORD:\?[^}]+\}$/);
    for (const [name, candidate] of stembotServices) expect(JSON.stringify(candidate.env_file), `${name} reads the chat tokens from .env`).toContain('.env');
  });
});
