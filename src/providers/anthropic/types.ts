/**
 * Public options of the Anthropic provider, its defaults, and the wire shapes of the Messages
 * API (`anthropic-version: 2023-06-01`) that Omega reads and writes.
 */
import type { Timeouts } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { Connector } from '../../http/transport.js';
import { HOSTED_DEFAULT_TIMEOUTS } from '../hosted.js';

/** Construction options of `AnthropicProvider`. */
export interface AnthropicProviderOptions {
  /** The API key; `ANTHROPIC_API_KEY` of `env` when unset. Never logged. */
  apiKey?: string;
  /** `https://api.anthropic.com` by default; requests go to `<baseUrl>/v1/...`. */
  baseUrl?: string;
  /** Model used when a call names none; `claude-sonnet-4-5` by default. */
  model?: string;
  /** `max_tokens` of each request (the API requires one); 4096 by default. */
  maxTokens?: number;
  /** Phase timeouts in milliseconds; missing phases use {@link ANTHROPIC_DEFAULT_TIMEOUTS}. */
  timeouts?: Partial<Timeouts>;
  logger?: Logger;
  /** Environment to read `ANTHROPIC_API_KEY` from; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** Replaces the socket connector (custom TLS, tests). */
  connect?: Connector;
}

/** The environment variable the API key comes from when none is given. */
export const ANTHROPIC_API_KEY_ENV = 'ANTHROPIC_API_KEY';
/** Default address of the Messages API. */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** Default model. */
export const ANTHROPIC_DEFAULT_MODEL = 'claude-sonnet-4-5';
/** Default `max_tokens`: the API refuses a request without one. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
/** The API version Omega speaks. */
export const ANTHROPIC_VERSION = '2023-06-01';

/** The default phase timeouts, those of every hosted API (see `HOSTED_DEFAULT_TIMEOUTS`). */
export const ANTHROPIC_DEFAULT_TIMEOUTS: Readonly<Timeouts> = HOSTED_DEFAULT_TIMEOUTS;

/** `thinking.budget_tokens` for each level of `think`. `true` means `medium`. */
export const THINKING_BUDGETS: Readonly<Record<'low' | 'medium' | 'high', number>> = Object.freeze({
  low: 1024,
  medium: 4096,
  high: 16384,
});

/** An image block's source. */
export interface WireImageSource {
  type: 'base64';
  media_type: string;
  data: string;
}

/** A content block Omega sends. */
export type WireContentBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: WireImageSource }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean };

/** One message of a request. */
export interface WireMessage {
  role: 'user' | 'assistant';
  content: string | WireContentBlock[];
}

/** A tool of a request. */
export interface WireTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

/** The usage object of a response and of `message_start` / `message_delta` events. */
export interface WireUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** A content block of a response (the kinds Omega reads; others are skipped). */
export interface WireResponseBlock {
  type: string;
  text?: string;
  thinking?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

/** A non-streamed response: the Message object. */
export interface WireMessageResponse {
  id?: string;
  type?: string;
  role?: string;
  model?: string;
  content?: WireResponseBlock[];
  stop_reason?: string | null;
  stop_sequence?: string | null;
  usage?: WireUsage;
}

/** An entry of `GET /v1/models`. */
export interface WireModel {
  type?: string;
  id: string;
  display_name?: string;
  created_at?: string;
}

/** A page of `GET /v1/models`. */
export interface WireModelPage {
  data?: WireModel[];
  has_more?: boolean;
  first_id?: string | null;
  last_id?: string | null;
}

/** The error object of an error response or an `error` event. */
export interface WireError {
  type?: string;
  message?: string;
}
