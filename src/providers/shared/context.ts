/**
 * What a provider request was about, for wording its failures and for the structured fields
 * of every {@link ProviderError} built from it. Each provider's own error context extends this.
 */
import type { BaseUrlSource, ProviderErrorOptions } from '../../core/errors.js';

/** The request a failure belongs to. */
export interface RequestContext {
  /** The base URL requests went to. */
  baseUrl: string;
  /** Where the base URL came from, when the provider knows. */
  baseUrlSource?: BaseUrlSource;
  method: string;
  /** Path below the base URL, e.g. `/api/chat`. */
  endpoint: string;
  /** The model the request named, if any. */
  model?: string;
  /** False for a non-streamed call, where the load phase also covers generating the answer. */
  streamed?: boolean;
  /** Values that must never appear in a message (an API key). */
  secrets?: readonly string[];
}

/** The structured fields a {@link ProviderError} carries for `ctx`, so callers never parse its message. */
export function errorFields(
  ctx: RequestContext,
): Pick<ProviderErrorOptions, 'model' | 'baseUrl' | 'endpoint' | 'baseUrlSource'> {
  const fields: Pick<ProviderErrorOptions, 'model' | 'baseUrl' | 'endpoint' | 'baseUrlSource'> = {
    baseUrl: ctx.baseUrl,
    endpoint: `${ctx.method} ${ctx.endpoint}`,
  };
  if (ctx.model !== undefined) fields.model = ctx.model;
  if (ctx.baseUrlSource !== undefined) fields.baseUrlSource = ctx.baseUrlSource;
  return fields;
}

/** `partialText` as an option, left out when nothing was received. */
export function partialOf(partialText: string | undefined): { partialText?: string } {
  return partialText === undefined || partialText === '' ? {} : { partialText };
}
