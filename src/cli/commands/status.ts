/**
 * `omega status` (alias `doctor`): is everything in place, and if not, what to do next.
 */
import { Command } from 'commander';
import { parseServerSection } from '../../config/server.js';
import type { ListenAddress } from '../../config/server.js';
import type { OllamaConfig, OmegaConfig, ProviderName } from '../../config/types.js';
import type { ModelInfo } from '../../core/types.js';
import { enabledProviders } from '../../gateway/factory.js';
import type { Gateway } from '../../gateway/gateway.js';
import { OllamaProvider, notRunningStep, notRunningSummary } from '../../providers/ollama/index.js';
import type { HostSnapshot } from '../../providers/ollama/fleet/index.js';
import { OllamaFleet } from '../../providers/ollama/fleet/index.js';
import { fleetHostLines, fleetStatus } from '../fleet-status.js';
import type { CliContext } from '../context.js';
import { memoryStatus, memoryStatusText } from '../memory-status.js';
import type { MemoryStatus } from '../memory-status.js';
import { EXIT, describeError } from '../errors.js';
import { formatBytes, formatJson, formatRelativeTime, formatTable } from '../output.js';

/** Something wrong with a provider, and the exact next step. */
export interface StatusProblem {
  message: string;
  nextStep?: string;
}

/** A model loaded in memory right now (`ollama ps`). */
export interface StatusRunningModel {
  name: string;
  sizeBytes?: number;
  sizeVramBytes?: number;
  expiresAt?: string;
}

/** What `omega status` learned about one provider. */
export interface ProviderStatus {
  name: string;
  default: boolean;
  enabled: boolean;
  available: boolean;
  baseUrl?: string;
  baseUrlSource?: OllamaConfig['baseUrlSource'];
  version?: string;
  /** The configured model. */
  model?: string;
  modelInstalled?: boolean;
  installedModels?: number;
  running?: StatusRunningModel[];
  /** With `[[provider.ollama.hosts]]`: every host of the fleet (up, version, circuit, in flight, loaded models). */
  hosts?: HostSnapshot[];
  problems: StatusProblem[];
}

/** The whole `omega status --json` document. */
export interface StatusReport {
  /** True when the default provider can answer. */
  ok: boolean;
  configFile: string | null;
  memory: MemoryStatus;
  defaultProvider: string;
  fallback: string[];
  providers: ProviderStatus[];
  /** `omega serve` at the configured `[server] listen` address. */
  server: ServerStatus;
}

/** Whether an `omega serve` answers at the configured address. */
export interface ServerStatus {
  url: string;
  running: boolean;
}

/** The URL a client uses for `listen` (a wildcard bind is reached over loopback). */
export function serverUrl(listen: ListenAddress): string {
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}`;
}

/** Probes `GET /healthz` of an `omega serve` (which needs no token), within a second. */
export async function probeServer(url: string, signal: AbortSignal): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.any([signal, AbortSignal.timeout(1000)]) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Ollama names `llama3` and `library/llama3:latest` are the same model. */
export function normalizeOllamaName(name: string): string {
  let n = name.trim().toLowerCase();
  n = n.replace(/^registry\.ollama\.ai\//, '').replace(/^library\//, '');
  const lastSlash = n.lastIndexOf('/');
  if (!n.slice(lastSlash + 1).includes(':')) n += ':latest';
  return n;
}

async function ollamaStatus(
  provider: OllamaProvider,
  config: OllamaConfig,
  entry: ProviderStatus,
  signal: AbortSignal,
): Promise<void> {
  entry.baseUrl = provider.baseUrl;
  entry.baseUrlSource = config.baseUrlSource;
  entry.model = provider.model;
  entry.available = await provider.isAvailable({ signal });
  if (!entry.available) {
    entry.problems.push({
      message: notRunningSummary(provider.baseUrl, config.baseUrlSource),
      nextStep: notRunningStep(config.baseUrlSource),
    });
    return;
  }
  const [version, models, running] = await Promise.allSettled([
    provider.version({ signal }),
    provider.listModels({ signal }),
    provider.ps({ signal }),
  ]);
  if (version.status === 'fulfilled') entry.version = version.value;
  if (running.status === 'fulfilled') {
    entry.running = running.value.map((m) => {
      const r: StatusRunningModel = { name: m.name };
      if (m.sizeBytes !== undefined) r.sizeBytes = m.sizeBytes;
      if (m.sizeVramBytes !== undefined) r.sizeVramBytes = m.sizeVramBytes;
      if (m.expiresAt !== undefined) r.expiresAt = String(m.expiresAt);
      return r;
    });
  }
  if (models.status === 'fulfilled') {
    const installed: ModelInfo[] = models.value;
    entry.installedModels = installed.length;
    const wanted = normalizeOllamaName(provider.model);
    entry.modelInstalled = installed.some((m) => normalizeOllamaName(m.name) === wanted);
    if (!entry.modelInstalled) {
      entry.problems.push({
        message: `The default model ${provider.model} is not installed${installed.length === 0 ? ' (no models are)' : ''}.`,
        nextStep: `Run \`ollama pull ${provider.model}\`, or set \`[provider.ollama] model\` to one that \`omega models\` lists.`,
      });
    }
  } else {
    entry.problems.push({ message: `Could not list the installed models: ${describeError(models.reason)}` });
  }
}

async function providerStatus(
  name: ProviderName,
  config: OmegaConfig,
  gateway: Gateway,
  signal: AbortSignal,
): Promise<ProviderStatus> {
  const entry: ProviderStatus = {
    name,
    default: config.provider.default === name,
    enabled: config.provider[name].enabled,
    available: false,
    problems: [],
  };
  if (!entry.enabled) {
    entry.problems.push({
      message: `The default provider ${name} is disabled.`,
      nextStep: `Set \`[provider.${name}] enabled = true\`, or choose another \`[provider] default\`.`,
    });
    return entry;
  }
  let provider;
  try {
    provider = gateway.provider(name);
  } catch (error) {
    entry.problems.push({ message: describeError(error) });
    return entry;
  }
  if (provider instanceof OllamaProvider) {
    await ollamaStatus(provider, config.provider.ollama, entry, signal);
    return entry;
  }
  if (provider instanceof OllamaFleet) {
    const fleet = await fleetStatus(provider);
    entry.available = fleet.available;
    if (fleet.version !== undefined) entry.version = fleet.version;
    entry.model = fleet.model;
    entry.modelInstalled = fleet.modelInstalled;
    entry.installedModels = fleet.installedModels;
    entry.hosts = fleet.hosts;
    entry.problems.push(...fleet.problems);
    return entry;
  }
  const section = config.provider[name];
  if ('apiKeyEnv' in section) {
    entry.baseUrl = section.baseUrl;
    entry.model = section.model;
    if (section.apiKey === undefined || section.apiKey === '') {
      entry.problems.push({
        message: `No API key for ${name}.`,
        nextStep: `Set ${section.apiKeyEnv}, or \`api_key\` in \`[provider.${name}]\`.`,
      });
      return entry;
    }
  }
  entry.available = await provider.isAvailable({ signal });
  if (!entry.available) {
    entry.problems.push({
      message: `${name} is not reachable${entry.baseUrl !== undefined ? ` at ${entry.baseUrl}` : ''}.`,
      nextStep: 'Check the network connection and the provider settings.',
    });
  }
  return entry;
}

/** `expires in 4 minutes`, or `stays loaded` for a model kept forever (keep_alive < 0). */
function expiry(expiresAt: string): string {
  const relative = formatRelativeTime(new Date(expiresAt));
  return relative === 'forever' ? 'stays loaded' : relative === 'now' ? 'expires now' : `expires ${relative}`;
}

function printReport(ctx: CliContext, report: StatusReport): void {
  const { out } = ctx;
  const lines: string[] = [];
  const label = (text: string): string => out.dim(text.padEnd(10));
  lines.push(`${label('config')}${report.configFile ?? 'none (defaults)'}`);
  lines.push(`${label('memory')}${memoryStatusText(report.memory, out)}`);
  const fallback = report.fallback.length > 0 ? `, then ${report.fallback.join(', ')}` : '';
  lines.push(`${label('provider')}${report.defaultProvider}${fallback}`);
  lines.push(`${label('serve')}${report.server.running ? `${out.green('running')} at ${report.server.url}` : out.dim(`not running (${report.server.url})`)}`);
  for (const p of report.providers) {
    lines.push('');
    const mark = p.available && p.problems.length === 0 ? out.green('✓') : p.available ? out.yellow('!') : out.red('✗');
    const state = p.available ? (p.version !== undefined ? `running, version ${p.version}` : 'available') : 'not available';
    lines.push(`${mark} ${out.bold(p.name)}${p.default ? ' (default)' : ''}  ${state}`);
    const indent = '    ';
    if (p.baseUrl !== undefined) {
      const from = p.baseUrlSource === 'env' ? out.dim(' (OLLAMA_HOST)') : '';
      lines.push(`${indent}${label('url')}${p.baseUrl}${from}`);
    }
    if (p.model !== undefined) {
      const installed = p.modelInstalled === undefined ? '' : p.modelInstalled ? out.dim(' (installed)') : out.red(' (not installed)');
      lines.push(`${indent}${label('model')}${p.model}${installed}`);
    }
    if (p.installedModels !== undefined) lines.push(`${indent}${label('installed')}${p.installedModels} model${p.installedModels === 1 ? '' : 's'}`);
    if (p.hosts !== undefined) {
      const up = p.hosts.filter((h) => h.up).length;
      lines.push(`${indent}${label('hosts')}${p.hosts.length} (${up} up)`);
      for (const row of fleetHostLines(p.hosts, out)) lines.push(`${indent}${label('')}${row}`);
    }
    if (p.running !== undefined) {
      if (p.running.length === 0) {
        lines.push(`${indent}${label('loaded')}none`);
      } else {
        const rows = p.running.map((m) => [
          m.name,
          m.sizeBytes === undefined ? '-' : formatBytes(m.sizeBytes),
          m.expiresAt === undefined ? '-' : expiry(m.expiresAt),
        ]);
        const table = formatTable(['', '', ''], rows, { gap: 2 }).slice(1);
        table.forEach((row, i) => lines.push(`${indent}${label(i === 0 ? 'loaded' : '')}${row}`));
      }
    }
    for (const problem of p.problems) {
      lines.push(`${indent}${out.red(problem.message)}`);
      if (problem.nextStep !== undefined) lines.push(`${indent}${out.bold('→')} ${problem.nextStep}`);
    }
  }
  ctx.print(`${lines.join('\n')}\n`);
}

/** Builds the `status` command (alias `doctor`). */
export function statusCommand(ctx: CliContext): Command {
  return new Command('status')
    .alias('doctor')
    .description('check the config, providers and models, and say what to fix')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit status is 0 when the default provider can answer and the memory backend answers, 1 otherwise.')
    .action(async (options: { json?: boolean }) => {
      const config = ctx.config;
      const gateway = await ctx.openGateway({ memory: false });
      try {
        const names = new Set<ProviderName>(enabledProviders(config));
        names.add(config.provider.default);
        const url = serverUrl((config.server ?? parseServerSection(undefined, { env: ctx.io.env, home: ctx.io.home, readTokens: false })).listen);
        const [providers, running, memory] = await ctx.interruptible((signal) =>
          Promise.all([
            Promise.all([...names].map((name) => providerStatus(name, config, gateway, signal))),
            probeServer(url, signal),
            memoryStatus(config, ctx.io.env),
          ]),
        );
        const defaultEntry = providers.find((p) => p.default);
        const report: StatusReport = {
          // A memory database that does not answer fails every ask and serve, so it fails the check too.
          ok: defaultEntry !== undefined && defaultEntry.available && defaultEntry.problems.length === 0 && memory.healthy !== false,
          configFile: ctx.configFile ?? null,
          memory,
          defaultProvider: config.provider.default,
          fallback: [...config.provider.fallback],
          providers,
          server: { url, running },
        };
        if (options.json === true) ctx.print(formatJson(report));
        else printReport(ctx, report);
        ctx.exitCode = report.ok ? EXIT.ok : EXIT.error;
      } finally {
        await gateway.close();
      }
    });
}
