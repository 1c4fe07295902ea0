/**
 * Public shapes and defaults of the embedded engine (node-llama-cpp over Ollama's model store).
 * Kept apart from the provider so the spec and the config types can name them without loading
 * the engine.
 */
import type { GenerationOptions, Timeouts } from '../../core/types.js';
import type { Logger } from '../../core/logger.js';

/** Construction options of `EmbeddedProvider`. */
export interface EmbeddedProviderOptions {
  /** The Ollama model store; `$OLLAMA_MODELS`, else `~/.ollama/models`, when unset. */
  modelsDir?: string;
  /** Model used when a call names none (an Ollama name, or the path of a .gguf file). */
  model?: string;
  /** CPU threads for generation; node-llama-cpp's choice (the cores useful for math) when unset. */
  threads?: number;
  /** `'auto'` uses a GPU node-llama-cpp finds usable; `false` (the default) the CPU only. */
  gpu?: 'auto' | false;
  /**
   * How long the loaded model stays in memory after a call, in milliseconds; `0` unloads at
   * once, a negative value keeps it until `close()`. 5 minutes by default, like Ollama.
   */
  keepAliveMs?: number;
  /** The context window in tokens when neither the request nor the model's parameters set `num_ctx`. */
  context?: number;
  /** Phase timeouts in milliseconds (`connectMs` does not apply); missing phases use {@link EMBEDDED_DEFAULT_TIMEOUTS}. */
  timeouts?: Partial<Timeouts>;
  /** Generation options applied under each request's own (and over the model's own parameters). */
  options?: GenerationOptions;
  logger?: Logger;
  /** Environment to read `OLLAMA_MODELS` and `HOME` from; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
}

/** Default phase limits: a cold load of a large model from disk can take minutes. */
export const EMBEDDED_DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 0,
  loadMs: 300_000,
  idleMs: 60_000,
  requestMs: 0,
});

/** Ollama's default `keep_alive`: five minutes. */
export const EMBEDDED_DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

/** Ollama's default context window since 0.6.x on a small machine. */
export const EMBEDDED_DEFAULT_CONTEXT = 4096;

/** The smallest context window the provider accepts. */
export const EMBEDDED_MIN_CONTEXT = 256;
