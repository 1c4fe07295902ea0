/**
 * Model names to providers: `provider/model` picks a provider, `[server.aliases]` maps names a
 * tool insists on, and a bare name goes to the default provider with fallback.
 *
 * Only a known provider name counts as a prefix, because Ollama names contain slashes of their
 * own (`hf.co/user/model`, `library/llama3`).
 */
import { PROVIDER_NAMES } from '../config/types.js';
import { HttpError } from './errors.js';

/** Where a request's model name leads. */
export interface Route {
  /** Explicit provider; undefined = the default provider, with fallback. */
  provider?: string;
  /** The model name for that provider; undefined = its configured model. */
  model?: string;
}

/** Resolves `name` through `aliases` (one level) and a `provider/` prefix. */
export function resolveModel(name: string, aliases: Readonly<Record<string, string>>): Route {
  const target = Object.hasOwn(aliases, name) ? (aliases[name] as string) : name;
  const slash = target.indexOf('/');
  if (slash > 0) {
    const prefix = target.slice(0, slash);
    if ((PROVIDER_NAMES as readonly string[]).includes(prefix)) {
      const model = target.slice(slash + 1);
      return model === '' ? { provider: prefix } : { provider: prefix, model };
    }
  }
  return { model: target };
}

/** The `model` field of a request body: a non-empty string, or an HttpError in the caller's words. */
export function requireModel(value: unknown, message = 'model is required'): string {
  if (typeof value !== 'string' || value.trim() === '') throw new HttpError(400, message, 'bad_request', 'model');
  return value.trim();
}
