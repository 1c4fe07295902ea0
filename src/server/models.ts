/**
 * What models this server can reach, for `/api/tags` and `/v1/models`: the Ollama provider's
 * own `/api/tags` entries (passed through, so `ollama list` shows digests and sizes) and every
 * other enabled provider's `listModels()`. Models of the default provider keep their bare
 * names; the others are listed as `provider/model`, which is how a request reaches them.
 */
import type { ModelInfo } from '../core/types.js';
import type { ServerContext } from './server.js';

/** One listed model. */
export interface ListedModel {
  /** The name a client sends to reach it. */
  id: string;
  provider: string;
  /** Ollama's `/api/tags` entry, when the model is Ollama's. */
  ollama?: Record<string, unknown>;
  info?: ModelInfo;
}

/** A provider that does not answer within this is left out of the list (and logged). */
const LIST_TIMEOUT_MS = 5000;

/** Every model reachable now, the default provider's first. Providers that fail are skipped. */
export async function listReachable(ctx: ServerContext, signal: AbortSignal): Promise<ListedModel[]> {
  const gateway = ctx.gateway;
  const names = gateway.providers();
  const bounded = AbortSignal.any([signal, AbortSignal.timeout(LIST_TIMEOUT_MS)]);
  const lists = await Promise.all(
    names.map(async (name): Promise<ListedModel[]> => {
      const prefix = name === gateway.defaultProvider ? '' : `${name}/`;
      try {
        if (name === 'ollama' && ctx.fleet !== undefined) {
          // Every host's models once each: a model any healthy host has can be routed.
          const { models } = await ctx.fleet.tags(bounded);
          return models.map((m) => {
            const id = `${prefix}${String(m.name ?? m.model ?? '')}`;
            return { id, provider: name, ollama: { ...m, name: id, model: id } };
          });
        }
        if (name === 'ollama' && ctx.upstream !== undefined) {
          const tags = await ctx.upstream.json<{ models?: Record<string, unknown>[] | null }>('GET', '/api/tags', undefined, bounded);
          return (tags.models ?? []).map((m) => {
            const id = `${prefix}${String(m.name ?? m.model ?? '')}`;
            return { id, provider: name, ollama: { ...m, name: id, model: id } };
          });
        }
        const provider = gateway.provider(name);
        const models = await provider.listModels({ signal: bounded });
        return models.map((info) => ({ id: `${prefix}${info.name}`, provider: name, info }));
      } catch (error) {
        ctx.logger.warn({ provider: name, err: error instanceof Error ? error.message : String(error) }, 'could not list the models of a provider');
        return [];
      }
    }),
  );
  const out = lists.flat();
  for (const [alias, target] of Object.entries(ctx.config.aliases)) {
    if (!out.some((m) => m.id === alias)) out.push({ id: alias, provider: target.split('/')[0] ?? '' });
  }
  return out;
}

/** The `/api/tags` entry of a listed model. */
export function tagsEntry(m: ListedModel): Record<string, unknown> {
  if (m.ollama !== undefined) return m.ollama;
  const info = m.info;
  return {
    name: m.id,
    model: m.id,
    modified_at: info?.modifiedAt ?? '1970-01-01T00:00:00Z',
    size: info?.sizeBytes ?? 0,
    digest: info?.digest ?? '',
    details: {
      parent_model: '',
      format: '',
      family: info?.family ?? m.provider,
      families: null,
      parameter_size: info?.parameterSize ?? '',
      quantization_level: info?.quantization ?? '',
    },
  };
}
