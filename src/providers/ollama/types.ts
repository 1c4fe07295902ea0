/**
 * Public shapes of the Ollama provider beyond the shared contract, and the wire shapes of
 * Ollama's JSON from 0.9.6 to 0.17.4 (snake_case, every metric optional; fields newer servers
 * add are optional too).
 */
import type { GenerationOptions, Timeouts } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';
import type { Connector } from '../../http/transport.js';

/** Construction options of `OllamaProvider`. */
export interface OllamaProviderOptions {
  /** Ollama's base URL; `OLLAMA_HOST`, then `http://localhost:11434`, when unset. */
  baseUrl?: string;
  /** Model used when a call names none; `llama3` by default. */
  model?: string;
  /** Sent as `keep_alive` on every call that sets none; unset leaves the server's `OLLAMA_KEEP_ALIVE` in force. */
  keepAlive?: string | number;
  /** Phase timeouts in milliseconds; missing phases use {@link OLLAMA_DEFAULT_TIMEOUTS}. */
  timeouts?: Partial<Timeouts>;
  /** Generation options applied under each request's own. */
  options?: GenerationOptions;
  logger?: Logger;
  /** Where `baseUrl` came from, so errors can point at `OLLAMA_HOST` when it was used. */
  baseUrlSource?: 'default' | 'config' | 'env';
  /** Environment to read `OLLAMA_HOST` from; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** Parallel `/api/show` calls while enriching `listModels()`; 4 by default. */
  showConcurrency?: number;
  /** Replaces the socket connector (custom TLS, tests). */
  connect?: Connector;
  /**
   * How `num_ctx` is chosen when neither the request nor {@link options} sets it: `'auto'` sizes
   * it to each conversation (growing only, up to {@link maxContext} and the model's trained
   * length); `'server'` (the default) leaves the server's own default.
   */
  context?: 'auto' | 'server';
  /** The largest window `context: 'auto'` chooses; 32768 by default. */
  maxContext?: number;
}

/** Model used when neither the config nor the call names one. */
export const DEFAULT_OLLAMA_MODEL = 'llama3';

/** The default phase timeouts: connect 5 s, load 10 min, idle 2 min, no overall limit. */
export const OLLAMA_DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 5_000,
  loadMs: 600_000,
  idleMs: 120_000,
  requestMs: 0,
});

/** A model loaded in Ollama's memory (`/api/ps`). */
export interface RunningModel {
  name: string;
  model: string;
  /** Estimated total size in bytes. */
  sizeBytes: number;
  /** Part of it in GPU memory. */
  sizeVramBytes: number;
  digest: string;
  /** When Ollama will unload it (ISO 8601). */
  expiresAt: string;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  /** The context the server allocated for it, in tokens (Ollama 0.10 and later). */
  contextLength?: number;
}

/** What `/api/show` says about a model. */
export interface ModelDetails {
  name: string;
  /** Ollama's capability names: `completion`, `embedding`, `vision`, `tools`, `insert`, `thinking`, ... */
  capabilities: string[];
  /** Trained maximum context, from `model_info["<architecture>.context_length"]`. */
  contextWindow?: number;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  /** The prompt template (Go template source). */
  template?: string;
  /** Modelfile parameters, one per line, as Ollama formats them. */
  parameters?: string;
  /** The GGUF key/value metadata. */
  modelInfo: Record<string, unknown>;
  /** For a cloud model (Ollama 0.12 and later): the host it runs on, e.g. `https://ollama.com:443`. */
  remoteHost?: string;
  /** For a cloud model: its name on {@link remoteHost}. */
  remoteModel?: string;
}

/** `/api/status` (Ollama 0.16.2 and later): whether this server may run cloud models. */
export interface OllamaStatus {
  cloud: {
    disabled: boolean;
    /** What disabled it: `none`, `env` (`OLLAMA_NO_CLOUD`), `config` (`~/.ollama/server.json`) or `both`. */
    source: string;
  };
}

/** Options of `embed()` beyond the call options. */
export interface EmbedOptions {
  /** Drop the end of an input longer than the model's context (the server's default) or fail. */
  truncate?: boolean;
  keepAlive?: string | number;
  /** Shorten each vector to this many dimensions, re-normalised (Ollama 0.11.11 and later). */
  dimensions?: number;
}

/** Result of `embed()`. */
export interface EmbedResult {
  model: string;
  /** One vector per input, L2-normalised by Ollama. */
  embeddings: number[][];
  promptTokens?: number;
  totalMs?: number;
}

/** One progress event of `pull()`. */
export interface PullProgress {
  /** `pulling manifest`, `pulling <digest>`, `verifying sha256 digest`, `writing manifest`, `success`, ... */
  status: string;
  digest?: string;
  /** Bytes of the layer being downloaded. */
  total?: number;
  /** Bytes of it done so far. */
  completed?: number;
}

// ---- wire shapes (Ollama 0.9.6 to 0.17.4) -------------------------------------------------------------

/** A tool call as Ollama sends it: no id or type in 0.9.6, `index` omitted for the first. */
export interface WireToolCall {
  id?: string;
  function: { index?: number; name: string; arguments: Record<string, unknown> | string };
}

/** `api.Message`. */
export interface WireMessage {
  role: string;
  content: string;
  thinking?: string;
  images?: string[];
  tool_calls?: WireToolCall[];
  tool_name?: string;
  tool_call_id?: string;
}

/** `api.Metrics`, all durations in nanoseconds. */
export interface WireMetrics {
  total_duration?: number;
  load_duration?: number;
  prompt_eval_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
}

/** One token's log probability (Ollama 0.12.11 and later). */
export interface WireLogprob {
  token?: string;
  logprob?: number;
  bytes?: number[];
  top_logprobs?: WireLogprob[];
}

/** One line of a streamed `/api/chat` response, or the whole non-streamed one. */
export interface WireChatResponse extends WireMetrics {
  model?: string;
  created_at?: string;
  message?: Partial<WireMessage>;
  done?: boolean;
  done_reason?: string;
  error?: unknown;
  logprobs?: WireLogprob[] | null;
  remote_model?: string;
  remote_host?: string;
}

/** `api.ModelDetails`. */
export interface WireModelDetails {
  parent_model?: string;
  format?: string;
  family?: string;
  families?: string[] | null;
  parameter_size?: string;
  quantization_level?: string;
}

/** An entry of `/api/tags`. */
export interface WireListModel {
  name: string;
  model?: string;
  modified_at?: string;
  size?: number;
  digest?: string;
  details?: WireModelDetails;
  remote_model?: string;
  remote_host?: string;
}

/** An entry of `/api/ps`. */
export interface WireRunningModel {
  name: string;
  model?: string;
  size?: number;
  size_vram?: number;
  digest?: string;
  details?: WireModelDetails;
  expires_at?: string;
  context_length?: number;
}

/** `/api/show`'s response (the parts Omega reads). */
export interface WireShowResponse {
  template?: string;
  parameters?: string;
  details?: WireModelDetails;
  model_info?: Record<string, unknown>;
  capabilities?: string[];
  remote_model?: string;
  remote_host?: string;
}
