/**
 * A fake Ollama host for fleet tests and benches: a real loopback HTTP server (FakeOllama) that
 * answers `GET /`, `/api/tags`, `/api/ps`, `/api/version`, `/api/show` and a streamed or whole
 * `/api/chat` from mutable state, so a test can add models, load them, break the host, hold
 * its chat answers at a gate, or cut a stream mid-way, and see what the fleet does.
 */
import { FakeOllama, ndjson } from './fake-ollama.js';
import type { RecordedRequest, Script } from './fake-ollama.js';

/** How a broken host answers. */
export type HostFault =
  /** Works. */
  | 'none'
  /** 500 with Ollama's error body. */
  | 'error500'
  /** Resets the connection before any answer. */
  | 'reset'
  /** Never answers. */
  | 'hang';

/** Options of {@link FakeFleetHost.start}. */
export interface FakeFleetHostOptions {
  /** Installed models; `:latest` is added to names without a tag. */
  models?: string[];
  /** Loaded models (must also be installed to make sense). */
  loaded?: string[];
  version?: string;
  /** Pieces of every chat answer; by default `['Hello', ' from ', <port>]`. */
  parts?: string[];
  /** Pause before each piece of a streamed answer. */
  partDelayMs?: number;
}

function tagged(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

/** One fake host; see the module comment. */
export class FakeFleetHost {
  /** Installed models (tagged names). */
  models: string[];
  /** Loaded models (tagged names). */
  loaded: string[];
  version: string;
  parts: string[];
  partDelayMs: number;
  /** Applies to every request. */
  fault: HostFault = 'none';
  /** Applies to `/api/chat` only. */
  chatFault: HostFault = 'none';
  /** When set, a streamed chat answer sends this many pieces and then resets the connection. */
  cutAfterParts: number | undefined;
  /** When set, `/api/pull` ends with this error line instead of success. */
  pullError: string | undefined;
  /** Chat requests running now, and the most at once. */
  chatsRunning = 0;
  maxChatsRunning = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  private constructor(readonly fake: FakeOllama, opts: FakeFleetHostOptions) {
    this.models = (opts.models ?? []).map(tagged);
    this.loaded = (opts.loaded ?? []).map(tagged);
    this.version = opts.version ?? '0.17.4';
    this.parts = opts.parts ?? ['Hello', ' from ', String(new URL(fake.url).port)];
    this.partDelayMs = opts.partDelayMs ?? 0;
    const answer = (fn: (req: RecordedRequest) => Script | Promise<Script>) => (req: RecordedRequest) => this.faulty() ?? fn(req);
    fake
      .route('GET', '/', answer(() => ({ headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Ollama is running' })))
      .route('HEAD', '/', answer(() => ({ body: '' })))
      .route('GET', '/api/version', answer(() => ({ body: { version: this.version } })))
      .route('GET', '/api/tags', answer(() => ({ body: { models: this.models.map((name) => ({ name, model: name, digest: `sha256:${name.replace(/\W/g, '')}`, size: 1000 })) } })))
      .route('GET', '/api/ps', answer(() => ({
        body: {
          models: this.loaded.map((name) => ({ name, model: name, size: 1000, size_vram: 0, digest: `sha256:${name.replace(/\W/g, '')}`, expires_at: '2099-01-01T00:00:00Z', context_length: 4096 })),
        },
      })))
      .route('POST', '/api/show', answer((req) => {
        const model = tagged(String((req.json as { model?: unknown } | undefined)?.model ?? ''));
        if (!this.models.includes(model)) return { status: 404, body: { error: `model '${model}' not found` } };
        return { body: { capabilities: ['completion'], model_info: { 'general.architecture': 'llama', 'llama.context_length': 8192 }, details: { family: 'llama' } } };
      }))
      .route('POST', '/api/chat', answer((req) => this.chat(req)))
      .route('POST', '/api/pull', answer((req) => {
        const model = tagged(String((req.json as { model?: unknown } | undefined)?.model ?? ''));
        if (this.pullError !== undefined) return { steps: [{ write: ndjson({ status: 'pulling manifest' }, { error: this.pullError }) }] };
        if (!this.models.includes(model)) this.models.push(model);
        return { steps: [{ write: ndjson({ status: 'pulling manifest' }, { status: 'pulling abc', digest: 'sha256:abc', total: 10, completed: 10 }, { status: 'success' }) }] };
      }));
  }

  /** Starts a fake host on 127.0.0.1 and a random port. */
  static async start(opts: FakeFleetHostOptions = {}): Promise<FakeFleetHost> {
    return new FakeFleetHost(await FakeOllama.start(), opts);
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return this.fake.url;
  }

  /** Chat requests received so far. */
  get chats(): number {
    return this.fake.requestsTo('/api/chat').length;
  }

  /** Requests to `path` received so far. */
  count(path: string): number {
    return this.fake.requestsTo(path).length;
  }

  /** Holds every chat answer (after its request arrived) until {@link release}. */
  hold(): void {
    if (this.gate !== undefined) return;
    this.gate = new Promise((resolve) => {
      this.openGate = resolve;
    });
  }

  /** Lets held chat answers go. */
  release(): void {
    this.openGate?.();
    this.gate = undefined;
    this.openGate = undefined;
  }

  async close(): Promise<void> {
    this.release();
    await this.fake.close();
  }

  private faulty(): Script | undefined {
    return scriptFor(this.fault);
  }

  private async chat(req: RecordedRequest): Promise<Script> {
    const body = (req.json ?? {}) as { model?: unknown; stream?: unknown };
    const model = tagged(String(body.model ?? ''));
    const fault = scriptFor(this.chatFault);
    if (fault !== undefined) return fault;
    if (!this.models.includes(model)) return { status: 404, body: { error: `model '${String(body.model)}' not found, try pulling it first` } };
    this.chatsRunning++;
    this.maxChatsRunning = Math.max(this.maxChatsRunning, this.chatsRunning);
    try {
      if (this.gate !== undefined) await this.gate;
      if (!this.loaded.includes(model)) this.loaded.push(model);
      const base = { model: String(body.model), created_at: '2026-11-30T00:00:00Z' };
      const done = { ...base, message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', prompt_eval_count: 3, eval_count: this.parts.length };
      if (body.stream === false) {
        return { body: { ...done, message: { role: 'assistant', content: this.parts.join('') } } };
      }
      const steps: Script['steps'] = [];
      for (const [i, part] of this.parts.entries()) {
        if (this.cutAfterParts !== undefined && i >= this.cutAfterParts) {
          // Time for the client to read what was sent: a reset discards unread bytes.
          steps.push({ delay: 50 }, { reset: true });
          return { steps };
        }
        if (this.partDelayMs > 0) steps.push({ delay: this.partDelayMs });
        steps.push({ write: ndjson({ ...base, message: { role: 'assistant', content: part }, done: false }) });
      }
      steps.push({ write: ndjson(done) });
      return { steps };
    } finally {
      this.chatsRunning--;
    }
  }
}

function scriptFor(fault: HostFault): Script | undefined {
  switch (fault) {
    case 'error500':
      return { status: 500, body: { error: 'llama runner process has terminated: exit status 2' } };
    case 'reset':
      return { reset: true };
    case 'hang':
      return { hang: true };
    default:
      return undefined;
  }
}
