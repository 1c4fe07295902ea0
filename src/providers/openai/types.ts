/**
 * Public options of the OpenAI-compatible providers, and the wire shapes of the Chat
 * Completions API (snake_case, every field optional: compatible servers differ in what they send).
 */
import type { Timeouts } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { Connector } from '../../http/transport.js';
import { HOSTED_DEFAULT_TIMEOUTS } from '../hosted.js';

/** Construction options shared by every OpenAI-compatible provider. */
export interface OpenAICompatibleOptions {
  /** The API key; the provider's environment variable (e.g. `OPENAI_API_KEY`) when unset. */
  apiKey?: string;
  /** Base URL including the API version path, e.g. `https://api.openai.com/v1`. */
  baseUrl?: string;
  /** Model used when a call names none. */
  model?: string;
  /** Phase timeouts in milliseconds; missing phases use {@link OPENAI_DEFAULT_TIMEOUTS}. */
  timeouts?: Partial<Timeouts>;
  /** Default output limit, sent when a request sets no `num_predict`. */
  maxTokens?: number;
  logger?: Logger;
  /** Extra request headers (e.g. `OpenAI-Organization`); never logged. */
  headers?: Record<string, string>;
  /** Environment to read the key from; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** Replaces the socket connector (custom TLS, tests). */
  connect?: Connector;
}

/** Construction options of `OpenAIProvider`. */
export type OpenAIProviderOptions = OpenAICompatibleOptions;

/** The default phase timeouts, those of every hosted API (see `HOSTED_DEFAULT_TIMEOUTS`). */
export const OPENAI_DEFAULT_TIMEOUTS: Readonly<Timeouts> = HOSTED_DEFAULT_TIMEOUTS;

/** A message as Chat Completions takes it. */
export interface WireMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null | WireContentPart[];
  tool_calls?: WireToolCall[];
  tool_call_id?: string;
}

/** One part of a multi-part user message. */
export type WireContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

/** A complete tool call in a request or a non-streamed answer. */
export interface WireToolCall {
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

/** A tool-call fragment in a streamed delta. */
export interface WireToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

/** Token counts as the API reports them. */
export interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

/** The `delta` (streamed) or `message` (whole) of a choice. */
export interface WireDelta {
  role?: string;
  content?: string | null;
  refusal?: string | null;
  /** DeepSeek, vLLM and others. */
  reasoning_content?: string | null;
  /** OpenRouter, Ollama's `/v1`. */
  reasoning?: string | null;
  tool_calls?: WireToolCallDelta[] | null;
}

/** One choice of a chunk or a completion. */
export interface WireChoice {
  index?: number;
  delta?: WireDelta;
  message?: WireDelta;
  finish_reason?: string | null;
}

/** A `chat.completion.chunk`, a whole `chat.completion`, or an error object in their place. */
export interface WireCompletion {
  id?: string;
  object?: string;
  model?: string;
  choices?: WireChoice[] | null;
  usage?: WireUsage | null;
  error?: unknown;
  /** vLLM's error shape: `{"object":"error","message":...}`. */
  message?: unknown;
}

/** An entry of `GET /models`. */
export interface WireModel {
  id?: string;
  object?: string;
  created?: number;
  owned_by?: string;
  /** Sent by some compatible servers (vLLM `max_model_len`, others `context_length`). */
  context_length?: number;
  max_model_len?: number;
}
