/**
 * The clients under measurement, each behind one small interface so the runner can
 * alternate them. Every client counts the non-empty content deltas it actually delivered
 * to its caller and their total length, so a client that drops or merges chunks is caught.
 */
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type * as OmegaOllama from '../src/providers/ollama/index.js';

/** What one call delivered. */
export interface CallResult {
  /** Non-empty content deltas received (streamed) or 1 (non-streamed). */
  chunks: number;
  /** Total length of the content, in UTF-16 code units. */
  chars: number;
  /** Milliseconds from the call to the first non-empty content delta. */
  firstMs: number;
  /** Milliseconds for the whole call. */
  totalMs: number;
}

/** Names of the clients, in table order. */
export type ClientName = 'raw' | 'raw-gen' | 'omega' | 'ollama-js' | 'langchain' | 'ai-sdk';

/** A client bound to one server. */
export interface BenchClient {
  readonly name: ClientName;
  /** A short description for the table. */
  readonly label: string;
  /** A streamed chat with `model`, consumed to the end. */
  stream(model: string): Promise<CallResult>;
  /** A non-streamed chat, when this client is part of the req/s figure. */
  chat?(model: string): Promise<CallResult>;
  close(): Promise<void>;
}

/** Where the Omega provider is loaded from. */
export type OmegaSource = 'dist' | 'src';

/** Table labels. */
export const LABELS: Record<ClientName, string> = {
  raw: 'raw undici loop (limit)',
  'raw-gen': 'raw loop + async generator (reference)',
  omega: 'Omega OllamaProvider',
  'ollama-js': 'ollama-js',
  langchain: '@langchain/ollama',
  'ai-sdk': 'AI SDK + ollama-ai-provider-v2',
};

/** The one user message every benchmark call sends. */
export const MESSAGES = [{ role: 'user' as const, content: 'Write a short story about a lighthouse.' }];

/**
 * The URL of Omega's Ollama provider module: the build (what users run) or the sources
 * (through tsx). Computed here and handed to child processes as a string, so that a copy of
 * this file compiled elsewhere still loads the right module.
 */
export function omegaModuleUrl(source: OmegaSource): string {
  const rel = source === 'dist' ? '../dist/providers/ollama/index.js' : '../src/providers/ollama/index.js';
  return new URL(rel, import.meta.url).href;
}

/** Loads `OllamaProvider`; the specifier is computed so that typechecking never depends on `dist/` existing. */
export async function loadOmega(url: string): Promise<typeof OmegaOllama> {
  return (await import(url)) as typeof OmegaOllama;
}

/**
 * The least a client can do: `undici.request`, cut the body into lines on the byte 0x0A,
 * decode each line and `JSON.parse` it. No error handling, timeouts or types. Lines are cut on
 * bytes before decoding (a multi-byte character can never contain 0x0A), which measured at
 * least as fast as decoding each read with a streaming TextDecoder and splitting the string.
 */
export async function rawStream(
  dispatcher: Agent,
  baseUrl: string,
  model: string,
  opts: { body?: Record<string, unknown>; keepText?: boolean } = {},
): Promise<CallResult & { last: Record<string, unknown> | undefined; text: string | undefined }> {
  const t0 = performance.now();
  const { statusCode, body } = await request(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: MESSAGES, stream: true, ...opts.body }),
    dispatcher,
  });
  if (statusCode !== 200) throw new Error(`raw: HTTP ${statusCode}: ${await body.text()}`);
  let chunks = 0;
  let chars = 0;
  let firstMs = 0;
  let text = opts.keepText === true ? '' : undefined;
  let last: Record<string, unknown> | undefined;
  const line = (s: string): void => {
    const obj = JSON.parse(s) as RawChunk;
    if (obj.error !== undefined) throw new Error(`raw: ${obj.error}`);
    const c = obj.message?.content;
    if (c) {
      if (chunks === 0) firstMs = performance.now() - t0;
      chunks++;
      chars += c.length;
      if (text !== undefined) text += c;
    }
    if (obj.done) last = obj as Record<string, unknown>;
  };
  // The unfinished line at the end of the previous read.
  let carry: Buffer | null = null;
  for await (const data of body) {
    const buf = data as Buffer;
    let start = 0;
    let nl = buf.indexOf(0x0a);
    if (carry !== null) {
      if (nl === -1) {
        carry = Buffer.concat([carry, buf]);
        continue;
      }
      line(Buffer.concat([carry, buf.subarray(0, nl)]).toString('utf8'));
      carry = null;
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    while (nl !== -1) {
      if (nl > start) line(buf.toString('utf8', start, nl));
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    if (start < buf.length) carry = buf.subarray(start);
  }
  if (carry !== null && carry.length > 0) line(carry.toString('utf8'));
  return { chunks, chars, firstMs, totalMs: performance.now() - t0, last, text };
}

/**
 * The raw loop turned into an async generator that yields every parsed line: what handing
 * chunks to a `for await` costs by itself. It is a reference for reading the figures of
 * clients whose API is an AsyncIterable, not a client anyone would ship.
 */
export async function* rawObjects(dispatcher: Agent, baseUrl: string, model: string): AsyncGenerator<RawChunk> {
  const { statusCode, body } = await request(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: MESSAGES, stream: true }),
    dispatcher,
  });
  if (statusCode !== 200) throw new Error(`raw: HTTP ${statusCode}: ${await body.text()}`);
  let carry: Buffer | null = null;
  for await (const data of body) {
    const buf = data as Buffer;
    let start = 0;
    let nl = buf.indexOf(0x0a);
    if (carry !== null) {
      if (nl === -1) {
        carry = Buffer.concat([carry, buf]);
        continue;
      }
      yield JSON.parse(Buffer.concat([carry, buf.subarray(0, nl)]).toString('utf8')) as RawChunk;
      carry = null;
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    while (nl !== -1) {
      if (nl > start) yield JSON.parse(buf.toString('utf8', start, nl)) as RawChunk;
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    if (start < buf.length) carry = buf.subarray(start);
  }
  if (carry !== null && carry.length > 0) yield JSON.parse(carry.toString('utf8')) as RawChunk;
}

/** The fields of a chat line the raw clients look at. */
interface RawChunk {
  message?: { content?: string };
  done?: boolean;
  error?: string;
}

/** The raw non-streamed call: one request, `body.json()`. */
export async function rawChat(dispatcher: Agent, baseUrl: string, model: string): Promise<CallResult> {
  const t0 = performance.now();
  const { statusCode, body } = await request(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: MESSAGES, stream: false }),
    dispatcher,
  });
  if (statusCode !== 200) throw new Error(`raw: HTTP ${statusCode}: ${await body.text()}`);
  const obj = (await body.json()) as { message?: { content?: string } };
  const c = obj.message?.content ?? '';
  const ms = performance.now() - t0;
  return { chunks: 1, chars: c.length, firstMs: ms, totalMs: ms };
}

/** Builds the client `name` against `baseUrl`; `omegaUrl` comes from {@link omegaModuleUrl}. */
export async function makeClient(name: ClientName, baseUrl: string, omegaUrl: string): Promise<BenchClient> {
  const label = LABELS[name];
  switch (name) {
    case 'raw': {
      const agent = new Agent();
      return {
        name,
        label,
        stream: (model) => rawStream(agent, baseUrl, model),
        chat: (model) => rawChat(agent, baseUrl, model),
        close: () => agent.close(),
      };
    }
    case 'raw-gen': {
      const agent = new Agent();
      return {
        name,
        label,
        async stream(model) {
          const t0 = performance.now();
          let chunks = 0;
          let chars = 0;
          let firstMs = 0;
          for await (const obj of rawObjects(agent, baseUrl, model)) {
            if (obj.error !== undefined) throw new Error(`raw: ${obj.error}`);
            const c = obj.message?.content;
            if (c) {
              if (chunks === 0) firstMs = performance.now() - t0;
              chunks++;
              chars += c.length;
            }
          }
          return { chunks, chars, firstMs, totalMs: performance.now() - t0 };
        },
        close: () => agent.close(),
      };
    }
    case 'omega': {
      const { OllamaProvider } = await loadOmega(omegaUrl);
      const provider = new OllamaProvider({ baseUrl });
      return {
        name,
        label,
        async stream(model) {
          const t0 = performance.now();
          let chunks = 0;
          let chars = 0;
          let firstMs = 0;
          for await (const chunk of provider.chatStream({ model, messages: MESSAGES })) {
            if (chunk.content) {
              if (chunks === 0) firstMs = performance.now() - t0;
              chunks++;
              chars += chunk.content.length;
            }
          }
          return { chunks, chars, firstMs, totalMs: performance.now() - t0 };
        },
        async chat(model) {
          const t0 = performance.now();
          const res = await provider.chat({ model, messages: MESSAGES });
          const ms = performance.now() - t0;
          return { chunks: 1, chars: res.message.content.length, firstMs: ms, totalMs: ms };
        },
        close: () => provider.close(),
      };
    }
    case 'ollama-js': {
      const { Ollama } = await import('ollama');
      const client = new Ollama({ host: baseUrl });
      return {
        name,
        label,
        async stream(model) {
          const t0 = performance.now();
          let chunks = 0;
          let chars = 0;
          let firstMs = 0;
          const it = await client.chat({ model, messages: MESSAGES, stream: true });
          for await (const part of it) {
            const c = part.message.content;
            if (c) {
              if (chunks === 0) firstMs = performance.now() - t0;
              chunks++;
              chars += c.length;
            }
          }
          return { chunks, chars, firstMs, totalMs: performance.now() - t0 };
        },
        async chat(model) {
          const t0 = performance.now();
          const res = await client.chat({ model, messages: MESSAGES, stream: false });
          const ms = performance.now() - t0;
          return { chunks: 1, chars: res.message.content.length, firstMs: ms, totalMs: ms };
        },
        close: async () => undefined,
      };
    }
    case 'langchain': {
      const { ChatOllama } = await import('@langchain/ollama');
      const models = new Map<string, InstanceType<typeof ChatOllama>>();
      return {
        name,
        label,
        async stream(model) {
          let llm = models.get(model);
          if (!llm) {
            llm = new ChatOllama({ model, baseUrl });
            models.set(model, llm);
          }
          const t0 = performance.now();
          let chunks = 0;
          let chars = 0;
          let firstMs = 0;
          for await (const chunk of await llm.stream([['human', MESSAGES[0]?.content ?? '']])) {
            const c = chunk.content;
            if (typeof c === 'string' && c !== '') {
              if (chunks === 0) firstMs = performance.now() - t0;
              chunks++;
              chars += c.length;
            }
          }
          return { chunks, chars, firstMs, totalMs: performance.now() - t0 };
        },
        close: async () => undefined,
      };
    }
    case 'ai-sdk': {
      (globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;
      const { streamText } = await import('ai');
      const { createOllama } = await import('ollama-ai-provider-v2');
      const ollama = createOllama({ baseURL: `${baseUrl}/api` });
      return {
        name,
        label,
        async stream(model) {
          const t0 = performance.now();
          let chunks = 0;
          let chars = 0;
          let firstMs = 0;
          const result = streamText({ model: ollama(model), messages: MESSAGES });
          for await (const part of result.fullStream) {
            if (part.type === 'text-delta') {
              if (part.text === '') continue;
              if (chunks === 0) firstMs = performance.now() - t0;
              chunks++;
              chars += part.text.length;
            } else if (part.type === 'error') {
              throw part.error instanceof Error ? part.error : new Error(String(part.error));
            }
          }
          return { chunks, chars, firstMs, totalMs: performance.now() - t0 };
        },
        close: async () => undefined,
      };
    }
  }
}
