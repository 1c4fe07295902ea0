/**
 * Gathering and printing the models of the enabled providers (`omega models`, `/models`).
 */
import type { Logger } from '../core/logger.js';
import type { ModelInfo, ModelProvider } from '../core/types.js';
import { OllamaFleet } from '../providers/ollama/fleet/index.js';
import { describeError } from './errors.js';
import { formatBytes, formatTable, type Style } from './output.js';

/** A provider whose models could not be listed. */
export interface ModelListFailure {
  provider: string;
  code?: string;
  message: string;
}

/** What {@link collectModels} found. */
export interface ModelListing {
  models: ModelInfo[];
  errors: ModelListFailure[];
}

interface ShowCapable {
  show(model: string, options?: { signal?: AbortSignal }): Promise<{ capabilities?: string[]; contextWindow?: number }>;
}

function canShow(provider: ModelProvider): provider is ModelProvider & ShowCapable {
  return typeof (provider as Partial<ShowCapable>).show === 'function';
}

/**
 * Fills in context window and capabilities that a cheap listing leaves out (Ollama's
 * /api/tags has neither) by asking the provider about each model. Failures leave the
 * model as it was: the table shows `-`.
 */
async function enrich(provider: ModelProvider, models: ModelInfo[], signal: AbortSignal, logger: Logger): Promise<void> {
  if (!canShow(provider)) return;
  await Promise.all(
    models.map(async (model) => {
      if (model.contextWindow !== undefined && hasAnyCapability(model)) return;
      try {
        const details = await provider.show(model.name, { signal });
        if (model.contextWindow === undefined && details.contextWindow !== undefined) model.contextWindow = details.contextWindow;
        if (!hasAnyCapability(model) && details.capabilities !== undefined) {
          const caps = new Set(details.capabilities);
          model.capabilities = {
            ...model.capabilities,
            chat: caps.has('completion'),
            vision: caps.has('vision'),
            tools: caps.has('tools'),
            embeddings: caps.has('embedding'),
            thinking: caps.has('thinking'),
          };
        }
      } catch (error) {
        logger.debug({ model: model.name, err: describeError(error) }, 'could not read model details');
      }
    }),
  );
}

/** {@link enrich} for a fleet: each model's details from the first host that has it. */
async function enrichFromHosts(fleet: OllamaFleet, models: ModelInfo[], signal: AbortSignal, logger: Logger): Promise<void> {
  const byHost = new Map<string, ModelInfo[]>();
  for (const m of models) {
    const host = m.hosts?.[0];
    if (host === undefined) continue;
    byHost.set(host, [...(byHost.get(host) ?? []), m]);
  }
  await Promise.all(
    [...byHost].map(async ([host, list]) => {
      const provider = fleet.providerFor(host);
      if (provider !== undefined) await enrich(provider, list, signal, logger);
    }),
  );
}

function hasAnyCapability(model: ModelInfo): boolean {
  const c = model.capabilities;
  return c.chat || c.vision || c.tools || c.embeddings || c.thinking;
}

/**
 * Lists the models of each provider in `providers`. A provider that fails (down, not
 * implemented) becomes an entry in `errors` instead of stopping the others.
 */
export async function collectModels(
  providers: { name: string; get: () => ModelProvider }[],
  signal: AbortSignal,
  logger: Logger,
): Promise<ModelListing> {
  const listing: ModelListing = { models: [], errors: [] };
  const results = await Promise.all(
    providers.map(async ({ name, get }) => {
      try {
        const provider = get();
        if (provider instanceof OllamaFleet) {
          // Discovery first, so `loadedOn` reflects every host's /api/ps now.
          await provider.refresh();
          const models = await provider.listModels({ signal });
          await enrichFromHosts(provider, models, signal, logger);
          return { name, models };
        }
        const models = await provider.listModels({ signal });
        await enrich(provider, models, signal, logger);
        return { name, models };
      } catch (error) {
        if (signal.aborted) throw error;
        const code = (error as { code?: unknown }).code;
        const failure: ModelListFailure = { provider: name, message: describeError(error) };
        if (typeof code === 'string') failure.code = code;
        return { name, error: failure };
      }
    }),
  );
  for (const result of results) {
    if (result.models !== undefined) listing.models.push(...result.models);
    if (result.error !== undefined) listing.errors.push(result.error);
  }
  return listing;
}

/** Capabilities worth showing, as words: `chat, tools, thinking`. */
export function capabilityWords(model: ModelInfo): string {
  const c = model.capabilities;
  const words: string[] = [];
  if (c.chat) words.push('chat');
  if (c.vision) words.push('vision');
  if (c.tools) words.push('tools');
  if (c.thinking) words.push('thinking');
  if (c.embeddings) words.push('embeddings');
  // A model the provider lists but cannot run (the embedded engine's cloud stubs, vision models); --json says why.
  if (words.length === 0 && model.unsupported !== undefined) return 'unsupported';
  return words.length > 0 ? words.join(', ') : '-';
}

/** A context window in tokens: `8K` for multiples of 1024, the number otherwise. */
export function formatContextWindow(tokens: number | undefined): string {
  if (tokens === undefined) return '-';
  return tokens >= 1024 && tokens % 1024 === 0 ? `${tokens / 1024}K` : String(tokens);
}

/** A fleet host as the table shows it: `host:port`. */
function shortHost(url: string): string {
  return url.replace(/^https?:\/\//, '');
}

/**
 * The models table, one line per model, like `ollama list` with more columns; with an Ollama
 * fleet, two more: the hosts that have each model and those where it is loaded now.
 */
export function modelTable(models: ModelInfo[], style: Style): string[] {
  const fleet = models.some((m) => m.hosts !== undefined);
  const rows = models.map((m) => {
    const row = [
      m.name,
      m.provider,
      m.sizeBytes === undefined ? '-' : formatBytes(m.sizeBytes),
      m.parameterSize ?? '-',
      m.quantization ?? '-',
      formatContextWindow(m.contextWindow),
      capabilityWords(m),
      m.local ? 'yes' : 'no',
    ];
    if (fleet) row.push(m.hosts === undefined ? '-' : m.hosts.map(shortHost).join(', '), m.loadedOn === undefined ? '-' : m.loadedOn.map(shortHost).join(', '));
    return row;
  });
  const headers = ['NAME', 'PROVIDER', 'SIZE', 'PARAMETERS', 'QUANTIZATION', 'CONTEXT', 'CAPABILITIES', 'LOCAL'];
  if (fleet) headers.push('HOSTS', 'LOADED ON');
  return formatTable(headers, rows, {
    alignRight: [2, 5],
    headerStyle: style.bold,
  });
}
