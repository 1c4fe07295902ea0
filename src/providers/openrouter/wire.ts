/**
 * OpenRouter's `GET /models` entries as {@link ModelInfo}s: prices per token as decimal
 * strings become dollars per million tokens, capabilities come from the listed parameters and
 * input modalities instead of guesses from the name.
 */
import type { ModelCapabilities, ModelInfo, Pricing } from '../../core/types.js';

/** One entry of OpenRouter's model list (only the fields Omega reads). */
export interface OpenRouterWireModel {
  id?: string;
  name?: string;
  created?: number;
  context_length?: number | null;
  architecture?: { input_modalities?: string[] | null; output_modalities?: string[] | null; modality?: string } | null;
  pricing?: { prompt?: string | number | null; completion?: string | number | null } | null;
  top_provider?: { context_length?: number | null; max_completion_tokens?: number | null } | null;
  supported_parameters?: string[] | null;
}

/** Provider name used in model ids. */
export const OPENROUTER = 'openrouter';

/**
 * A price per token (a decimal string such as `"0.000003"`) as dollars per million tokens.
 * `undefined` for a missing or invalid price, and for OpenRouter's negative "varies" marker
 * (`openrouter/auto`, whose price depends on the model it routes to).
 */
export function perMillion(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0) return undefined;
  // Twelve significant digits undo the binary rounding of the multiplication (0.000003 * 1e6 = 2.9999999999999996).
  return Number((n * 1e6).toPrecision(12));
}

/** Both prices, or `null` when either is unknown. */
export function toPricing(pricing: OpenRouterWireModel['pricing']): Pricing | null {
  if (typeof pricing !== 'object' || pricing === null) return null;
  const input = perMillion(pricing.prompt);
  const output = perMillion(pricing.completion);
  if (input === undefined || output === undefined) return null;
  return { inputPerMillion: input, outputPerMillion: output };
}

/** Capabilities from `supported_parameters` and `architecture`. */
export function toCapabilities(m: OpenRouterWireModel): ModelCapabilities {
  const params = Array.isArray(m.supported_parameters) ? m.supported_parameters : [];
  const inputs = Array.isArray(m.architecture?.input_modalities) ? m.architecture.input_modalities : [];
  const outputs = Array.isArray(m.architecture?.output_modalities) ? m.architecture.output_modalities : undefined;
  const modality = typeof m.architecture?.modality === 'string' ? m.architecture.modality : '';
  const chat = outputs === undefined ? !/->(?!.*text)/.test(modality) : outputs.includes('text');
  return {
    chat,
    vision: inputs.includes('image') || /image.*->/.test(modality),
    tools: params.includes('tools'),
    embeddings: false,
    streaming: chat,
    thinking: params.includes('reasoning') || params.includes('include_reasoning'),
  };
}

/** One entry as a {@link ModelInfo}, or `undefined` when it has no id. */
export function toOpenRouterModelInfo(m: OpenRouterWireModel): ModelInfo | undefined {
  if (typeof m !== 'object' || m === null || typeof m.id !== 'string' || m.id === '') return undefined;
  const info: ModelInfo = {
    id: `${OPENROUTER}/${m.id}`,
    provider: OPENROUTER,
    name: m.id,
    capabilities: toCapabilities(m),
    pricing: toPricing(m.pricing),
    local: false,
  };
  const ctx = positive(m.context_length) ?? positive(m.top_provider?.context_length);
  if (ctx !== undefined) info.contextWindow = ctx;
  const maxOut = positive(m.top_provider?.max_completion_tokens);
  if (maxOut !== undefined) info.maxOutput = maxOut;
  if (typeof m.created === 'number' && Number.isFinite(m.created) && m.created > 0) {
    info.modifiedAt = new Date(m.created * 1000).toISOString();
  }
  return info;
}

function positive(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}
