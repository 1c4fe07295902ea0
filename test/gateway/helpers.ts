/**
 * Shared pieces of the gateway tests: temp directories, a full test config, and scripted
 * fake providers that record what they were asked.
 */
import { after } from 'node:test';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderError } from '../../src/core/errors.js';
import type { ProviderErrorCode } from '../../src/core/errors.js';
import type {
  CallOptions,
  ChatChunk,
  ChatRequest,
  ChatResponse,
  Context,
  ModelInfo,
  ModelProvider,
  OutgoingMessage,
  Provider,
} from '../../src/core/types.js';
import type { OmegaConfig, ProviderName } from '../../src/config/types.js';

/** A fresh temp directory, removed after the enclosing suite. */
export function tempDir(prefix: string): { path: string } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  after(() => {
    try {
      chmodSync(path, 0o700);
    } catch {
      // Already gone.
    }
    rmSync(path, { recursive: true, force: true });
  });
  return { path };
}

const TIMEOUTS = { connectMs: 1000, loadMs: 5000, idleMs: 5000, requestMs: 0 };

function api(enabled: boolean, model: string) {
  return { enabled, apiKeyEnv: 'X_API_KEY', model, baseUrl: 'http://127.0.0.1:9', timeouts: TIMEOUTS };
}

/** A complete config; `enabled` lists the providers turned on (ollama by default). */
export function testConfig(
  opts: {
    default?: ProviderName;
    fallback?: ProviderName[];
    enabled?: ProviderName[];
    dbPath?: string;
    maxContextMessages?: number;
    systemPrompt?: string;
    ollamaUrl?: string;
  } = {},
): OmegaConfig {
  const enabled = new Set(opts.enabled ?? ['ollama']);
  return {
    omega: {
      name: 'omega-test',
      dataDir: '/nonexistent',
      logLevel: 'silent',
      systemPrompt: opts.systemPrompt ?? 'You are a test.',
    },
    provider: {
      default: opts.default ?? 'ollama',
      fallback: opts.fallback ?? [],
      ollama: {
        enabled: enabled.has('ollama'),
        baseUrl: opts.ollamaUrl ?? 'http://127.0.0.1:9',
        model: 'llama-config',
        timeouts: TIMEOUTS,
        options: {},
        baseUrlSource: 'config',
      },
      anthropic: api(enabled.has('anthropic'), 'claude-config'),
      openai: api(enabled.has('openai'), 'gpt-config'),
      openrouter: api(enabled.has('openrouter'), 'router-config'),
      'claude-code': {
        enabled: enabled.has('claude-code'),
        command: 'claude',
        timeoutSecs: 60,
        maxTurns: 1,
      },
      embedded: {
        enabled: enabled.has('embedded'),
        modelsDir: '/nonexistent/ollama-models',
        gpu: false,
        keepAliveMs: 0,
        context: 2048,
        timeouts: { connectMs: 0, loadMs: 60_000, idleMs: 10_000, requestMs: 0 },
      },
    },
    memory: {
      backend: 'sqlite',
      dbPath: opts.dbPath ?? ':memory:',
      maxContextMessages: opts.maxContextMessages ?? 20,
    },
  };
}

/** What a fake provider does on one call. */
export type Step =
  | { answer: string; thinking?: string; model?: string; promptTokens?: number; completionTokens?: number }
  | { error: ProviderErrorCode | Error }
  /** Streams these deltas, then fails with `error` (or finishes when absent). */
  | { chunks: string[]; failWith?: ProviderErrorCode; waitForAbortAfter?: number };

function providerError(name: string, code: ProviderErrorCode): ProviderError {
  return new ProviderError({ provider: name, code, message: `${name} failed with ${code}.` });
}

/** A ModelProvider that follows a script, one step per call, and records every request. */
export class FakeModelProvider implements ModelProvider {
  readonly requiresApiKey = false;
  readonly requests: ChatRequest[] = [];
  /** How many streams were closed by their consumer before they ended. */
  closedEarly = 0;
  closed = false;
  private readonly steps: Step[];

  constructor(
    readonly name: string,
    steps: Step[],
    readonly model = `${name}-model`,
  ) {
    this.steps = [...steps];
  }

  private next(): Step {
    const step = this.steps.shift();
    if (step === undefined) throw new Error(`${this.name}: no scripted step left`);
    return step;
  }

  async complete(): Promise<OutgoingMessage> {
    throw new Error('the gateway should call chat() on a ModelProvider');
  }

  async isAvailable(): Promise<boolean> {
    throw new Error('the gateway should not pay for an availability check');
  }

  async listModels(): Promise<ModelInfo[]> {
    return [];
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(request);
    const step = this.next();
    if ('error' in step) throw typeof step.error === 'string' ? providerError(this.name, step.error) : step.error;
    if ('chunks' in step) throw new Error('chunks steps are for chatStream');
    const message: ChatResponse['message'] = { role: 'assistant', content: step.answer };
    if (step.thinking !== undefined) message.thinking = step.thinking;
    return {
      message,
      model: step.model ?? request.model ?? this.model,
      doneReason: 'stop',
      usage: {
        promptTokens: step.promptTokens ?? 11,
        completionTokens: step.completionTokens ?? 7,
        totalTokens: (step.promptTokens ?? 11) + (step.completionTokens ?? 7),
      },
      timings: { totalMs: 3 },
      processingTimeMs: 3,
    };
  }

  async *chatStream(request: ChatRequest, options: CallOptions = {}): AsyncGenerator<ChatChunk> {
    this.requests.push(request);
    const step = this.next();
    const model = request.model ?? this.model;
    let finished = false;
    try {
      if ('error' in step) throw typeof step.error === 'string' ? providerError(this.name, step.error) : step.error;
      if ('answer' in step) {
        yield { content: step.answer, done: false, model };
        yield { content: '', done: true, doneReason: 'stop', model, usage: { promptTokens: 5, completionTokens: 1 } };
        finished = true;
        return;
      }
      for (const [i, delta] of step.chunks.entries()) {
        if (step.waitForAbortAfter === i) await untilAborted(this.name, options.signal);
        yield { content: delta, done: false, model };
      }
      if (step.failWith !== undefined) throw providerError(this.name, step.failWith);
      yield {
        content: '',
        done: true,
        doneReason: 'stop',
        model,
        usage: { promptTokens: 9, completionTokens: step.chunks.length },
      };
      finished = true;
    } finally {
      if (!finished) this.closedEarly++;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function untilAborted(name: string, signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal === undefined) return reject(new Error('no signal given to the provider'));
    const fail = (): void => reject(new ProviderError({ provider: name, code: 'aborted', message: 'cancelled' }));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/** A plain Provider (no chat API), answering through complete(). */
export class FakePlainProvider implements Provider {
  readonly requiresApiKey = false;
  readonly contexts: Context[] = [];

  constructor(
    readonly name: string,
    private readonly answer: string,
  ) {}

  async complete(context: Context): Promise<OutgoingMessage> {
    this.contexts.push(context);
    return {
      text: this.answer,
      metadata: {
        providerUsed: this.name,
        model: context.model ?? 'plain-model',
        processingTimeMs: 1,
        promptTokens: 3,
        completionTokens: 4,
        tokensUsed: 7,
        doneReason: 'stop',
      },
    };
  }

  async isAvailable(): Promise<boolean> {
    return true;
  }
}
