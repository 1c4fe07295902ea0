/**
 * The Ollama provider's context-window rules, as pure functions: which servers can refuse an
 * oversized prompt, how `context = "auto"` sizes `num_ctx`, how a silently truncated prompt is
 * told apart, what a capability check says, and the `context_overflow` message.
 *
 * Why here and not on the server: Ollama's default window is 4096 tokens on most machines, and
 * before 0.12.6 it cut a longer prompt without an error.
 */
import { ProviderError } from '../../core/errors.js';
import type { ProviderErrorOptions } from '../../core/errors.js';
import type { ChatRequest } from '../../core/types.js';
import { PROVIDER } from './wire.js';

/** The first Ollama release that accepts `truncate: false` and refuses an oversized prompt with a 400. */
export const TRUNCATE_FLAG_SINCE = '0.12.6';
/**
 * Ollama's default context window when nothing sets `num_ctx`: 4096 on 0.9.6, and from 0.15.5 on
 * any machine with less than 23 GiB of VRAM (more VRAM gives a larger default, never a smaller one).
 */
export const SERVER_DEFAULT_CONTEXT = 4096;
/** `context = "auto"` grows `num_ctx` in steps of this many tokens, so a growing conversation reloads rarely. */
export const CONTEXT_STEP = 4096;
/** The largest window `context = "auto"` chooses when `max_context` is not set. */
export const DEFAULT_MAX_CONTEXT = 32_768;

/** The structured fields of errors raised here (the request's base URL and endpoint), supplied by the provider. */
export type ErrorFields = Pick<ProviderErrorOptions, 'baseUrl' | 'baseUrlSource' | 'endpoint' | 'status' | 'providerMessage'>;

/** How the provider chooses `num_ctx`: sized to each prompt, or left to the server. */
export type ContextMode = 'auto' | 'server';

/** `0.12.6` as `[0, 12, 6]`; a pre-release or build suffix is ignored. Undefined when not a version. */
export function parseVersion(version: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  if (m === null) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** Whether `version` is `min` or later; false for a version that cannot be read. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(min);
  if (a === undefined || b === undefined) return false;
  for (let i = 0; i < 3; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) > (b[i] as number);
  }
  return true;
}

/** `value` rounded up to a multiple of `step`. */
export function roundUp(value: number, step: number = CONTEXT_STEP): number {
  return Math.ceil(Math.max(1, value) / step) * step;
}

/**
 * The `num_ctx` for a prompt under `context = "auto"`, or undefined to leave the server's default
 * (which is at least {@link SERVER_DEFAULT_CONTEXT}). Sticky: a model's window only grows, because
 * every change of `num_ctx` reloads the model, and a window that shrank back would reload twice.
 *
 * @param needed  prompt tokens plus the room for the answer
 * @param loadedOrChosen the model's window now: what this provider chose before, or what it is loaded with
 * @param limit   the largest window allowed: the trained length and `max_context`, whichever is less
 */
export function autoContext(needed: number, loadedOrChosen: number | undefined, limit: number): number | undefined {
  // A window loaded by someone else may be larger than the cap; the cap wins.
  const current = loadedOrChosen === undefined ? undefined : Math.min(loadedOrChosen, limit);
  if (current === undefined) {
    // The server's default is enough, unless it is more than the cap allows.
    if (needed <= SERVER_DEFAULT_CONTEXT && limit >= SERVER_DEFAULT_CONTEXT) return undefined;
    return Math.min(limit, roundUp(needed));
  }
  if (needed <= current) return current;
  return Math.max(current, Math.min(limit, roundUp(needed)));
}

/**
 * Whether an answer was produced from a prompt the server cut without saying so. Two signs:
 * the runner keeps exactly `allocated` tokens of a longer prompt (so `prompt_eval_count`
 * equals the window), and the server's own history fitting drops whole messages (so the count
 * is far below a prompt that was known to be larger than the window).
 */
export function looksTruncated(p: { promptEvalCount: number | undefined; allocated: number; estimate: number; calibrated: boolean }): boolean {
  const counted = p.promptEvalCount;
  if (counted === undefined || p.estimate <= p.allocated) return false;
  if (counted >= p.allocated) return true;
  // Well past the window by a calibrated estimate, and the server counted less than fits.
  return p.calibrated && p.estimate > p.allocated * 1.15;
}

/** What a request needs of a model: Ollama's capability names, each with the reason. */
export function requiredCapabilities(request: ChatRequest): { capability: string; what: string }[] {
  const out: { capability: string; what: string }[] = [];
  if (request.tools !== undefined && request.tools.length > 0) out.push({ capability: 'tools', what: 'tools' });
  if (request.messages.some((m) => (m.images?.length ?? 0) > 0)) out.push({ capability: 'vision', what: 'images' });
  if (request.think !== undefined && request.think !== false) out.push({ capability: 'thinking', what: 'thinking (think)' });
  return out;
}

/**
 * The `unsupported` error for a request the model cannot serve, raised before anything is sent
 * (so the model is not loaded for nothing). Undefined when the model can, or when the server
 * lists no capabilities (older servers).
 */
export function capabilityError(
  model: string,
  capabilities: readonly string[] | undefined,
  needs: readonly { capability: string; what: string }[],
  fields: ErrorFields = {},
): ProviderError | undefined {
  // Every model has completion or embedding: an empty list means the server does not say.
  if (capabilities === undefined || capabilities.length === 0) return undefined;
  const missing = needs.find((n) => !capabilities.includes(n.capability));
  if (missing === undefined) return undefined;
  const has = capabilities.length > 0 ? capabilities.join(', ') : 'none listed';
  return new ProviderError({
    provider: PROVIDER,
    code: 'unsupported',
    message:
      `Model '${model}' does not support ${missing.what} (its capabilities: ${has}); ` +
      `send the request without ${missing.what}, or use a model whose \`ollama show ${model}\` lists ${missing.capability}.`,
    model,
    ...fields,
  });
}

/** The `unsupported` error for embeddings a model's runner refused (it lacks the `embedding` capability). */
export function embeddingCapabilityError(
  model: string,
  capabilities: readonly string[] | undefined,
  fields: ErrorFields = {},
): ProviderError | undefined {
  if (capabilities === undefined || capabilities.length === 0 || capabilities.includes('embedding')) return undefined;
  const has = capabilities.length > 0 ? capabilities.join(', ') : 'none listed';
  return new ProviderError({
    provider: PROVIDER,
    code: 'unsupported',
    message: `Model '${model}' cannot make embeddings (its capabilities: ${has}); use an embedding model, such as nomic-embed-text or embeddinggemma.`,
    model,
    ...fields,
  });
}

/** The numbers a `context_overflow` message can give. */
export interface OverflowFacts {
  model: string;
  /** The window the server was asked to use (or its default). */
  contextLength: number;
  /** The provider's (or caller's) count of the prompt. */
  promptTokens?: number;
  /** The model's trained maximum, when known. */
  trained?: number;
  mode: ContextMode;
  /** The largest window `context = "auto"` may choose. */
  limit?: number;
  /** Whether `num_ctx` was set explicitly by the caller or the provider's options. */
  explicit: boolean;
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}

/**
 * `context_overflow`: the prompt does not fit the model's window. Not retryable as is (the same
 * prompt fails again); the gateway retries once with less history.
 */
export function overflowError(facts: OverflowFacts, cause?: unknown, providerMessage?: string, fields: ErrorFields = {}): ProviderError {
  // The server's error already carries where the request went; keep that.
  const from = cause instanceof ProviderError ? cause : undefined;
  const where: ErrorFields = {
    ...fields,
    ...(from?.baseUrl === undefined ? {} : { baseUrl: from.baseUrl }),
    ...(from?.baseUrlSource === undefined ? {} : { baseUrlSource: from.baseUrlSource }),
    ...(from?.endpoint === undefined ? {} : { endpoint: from.endpoint }),
  };
  const size = facts.promptTokens === undefined ? 'The prompt' : `The prompt (about ${n(facts.promptTokens)} tokens)`;
  let advice: string;
  const room = facts.trained !== undefined && facts.trained > facts.contextLength;
  if (facts.mode === 'auto' && !facts.explicit) {
    advice =
      facts.limit !== undefined && room && facts.limit < (facts.trained ?? 0)
        ? `shorten it, or raise maxContext (now ${n(facts.limit)}; the model was trained for ${n(facts.trained ?? 0)})`
        : 'shorten it; the window is already as large as the model allows';
  } else if (room) {
    advice = `shorten it, or raise options.num_ctx (the model was trained for ${n(facts.trained ?? 0)}), or let the provider size it with context: 'auto'`;
  } else {
    advice = 'shorten it, or leave out earlier messages';
  }
  return new ProviderError({
    provider: PROVIDER,
    code: 'context_overflow',
    status: 400,
    message: `${size} is longer than the ${n(facts.contextLength)}-token context window of '${facts.model}'; ${advice}.`,
    model: facts.model,
    ...where,
    ...(cause === undefined ? {} : { cause }),
    ...(providerMessage === undefined ? {} : { providerMessage }),
  });
}
