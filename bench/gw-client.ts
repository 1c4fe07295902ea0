/**
 * The HTTP client of the gateway benchmark: the least a client can do against either protocol
 * a gateway speaks, so that the figures measure the server side (gateway or synthetic server),
 * not a client library. Ollama's NDJSON `/api/chat` and the OpenAI-compatible SSE
 * `/v1/chat/completions`, streamed and not, plus a load loop and a many-streams-at-once run.
 *
 * Every call counts the non-empty content deltas it received and their total length, so a
 * gateway that drops, merges or re-cuts chunks is caught rather than flattered.
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { Agent } from 'undici';
import { MESSAGES } from './clients.js';

/** One endpoint to send chats to. */
export interface GatewayTarget {
  /** The full URL of the chat endpoint. */
  url: string;
  /** What the endpoint speaks: Ollama's `/api/chat` or OpenAI's Chat Completions. */
  protocol: 'ollama' | 'openai';
  /** Extra request headers (a gateway's key, its routing headers). */
  headers: Record<string, string>;
}

/** What one chat delivered. */
export interface GatewayCall {
  /** Non-empty content deltas received (streamed) or 1 (non-streamed). */
  chunks: number;
  /** Total length of the content, in UTF-16 code units. */
  chars: number;
  /** Milliseconds from the call to the response headers. */
  headersMs: number;
  /** Milliseconds from the call to the first non-empty content delta. */
  firstMs: number;
  /** Milliseconds for the whole call. */
  totalMs: number;
}

/** The parsed fields of a streamed line or event this client looks at. */
interface Delta {
  message?: { content?: string };
  choices?: { delta?: { content?: string | null }; message?: { content?: string | null } }[];
  error?: unknown;
}

function describeError(e: unknown): string {
  if (typeof e === 'string') return e;
  const msg = (e as { message?: unknown } | null)?.message;
  return typeof msg === 'string' ? msg : JSON.stringify(e);
}

/** The messages of one chat: the benchmark's, unless a caller sends its own. */
export type ChatMessages = readonly { role: 'system' | 'user' | 'assistant'; content: string }[];

function body(model: string, stream: boolean, messages: ChatMessages): string {
  return JSON.stringify({ model, messages, stream });
}

async function post(agent: Agent, target: GatewayTarget, model: string, stream: boolean, messages: ChatMessages = MESSAGES) {
  const res = await request(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...target.headers },
    body: body(model, stream, messages),
    dispatcher: agent,
  });
  if (res.statusCode !== 200) {
    const text = await res.body.text();
    throw new Error(`HTTP ${res.statusCode} from ${target.url}: ${text.slice(0, 300)}`);
  }
  return res;
}

/** A streamed chat consumed to the end; `onFirst` runs when the first content delta arrives. */
export async function streamChat(
  agent: Agent,
  target: GatewayTarget,
  model: string,
  onFirst?: () => void,
  messages: ChatMessages = MESSAGES,
): Promise<GatewayCall> {
  const t0 = performance.now();
  const res = await post(agent, target, model, true, messages);
  const headersMs = performance.now() - t0;
  let chunks = 0;
  let chars = 0;
  let firstMs = 0;
  let done = false;
  const sse = target.protocol === 'openai';
  const take = (obj: Delta): void => {
    if (obj.error !== undefined && obj.error !== null) throw new Error(`error in the stream: ${describeError(obj.error)}`);
    const c = sse ? obj.choices?.[0]?.delta?.content : obj.message?.content;
    if (c) {
      if (chunks === 0) {
        firstMs = performance.now() - t0;
        onFirst?.();
      }
      chunks++;
      chars += c.length;
    }
  };
  const line = (s: string): void => {
    if (!sse) {
      take(JSON.parse(s) as Delta);
      return;
    }
    // SSE: only `data:` lines carry chunks; `event:`, comments and blank lines do not.
    if (!s.startsWith('data:')) return;
    const payload = s.charCodeAt(5) === 0x20 ? s.slice(6) : s.slice(5);
    if (payload === '[DONE]') {
      done = true;
      return;
    }
    take(JSON.parse(payload) as Delta);
  };
  let carry: Buffer | null = null;
  const cut = (buf: Buffer, start: number, end: number): void => {
    // Tolerate CRLF line ends.
    const e = end > start && buf[end - 1] === 0x0d ? end - 1 : end;
    if (e > start) line(buf.toString('utf8', start, e));
  };
  for await (const data of res.body) {
    let buf = data as Buffer;
    if (carry !== null) {
      buf = Buffer.concat([carry, buf]);
      carry = null;
    }
    let start = 0;
    let nl = buf.indexOf(0x0a);
    while (nl !== -1) {
      cut(buf, start, nl);
      start = nl + 1;
      nl = buf.indexOf(0x0a, start);
    }
    if (start < buf.length) carry = buf.subarray(start);
  }
  if (carry !== null && carry.length > 0) cut(carry, 0, carry.length);
  if (sse && !done) throw new Error('the SSE stream ended without `data: [DONE]`');
  return { chunks, chars, headersMs, firstMs, totalMs: performance.now() - t0 };
}

/** A non-streamed chat. */
export async function singleChat(agent: Agent, target: GatewayTarget, model: string): Promise<GatewayCall> {
  const t0 = performance.now();
  const res = await post(agent, target, model, false);
  const headersMs = performance.now() - t0;
  const obj = (await res.body.json()) as Delta;
  if (obj.error !== undefined && obj.error !== null) throw new Error(`error answer: ${describeError(obj.error)}`);
  const c = (target.protocol === 'openai' ? obj.choices?.[0]?.message?.content : obj.message?.content) ?? '';
  const ms = performance.now() - t0;
  return { chunks: 1, chars: c.length, headersMs, firstMs: ms, totalMs: ms };
}

/** What a timed load run did. */
export interface LoadResult {
  /** Chats answered with the expected content. */
  ok: number;
  /** Chats answered with content of the wrong length. */
  bad: number;
  /** Chats that failed. */
  failed: number;
  firstError?: string;
  /** From the first request to the last answer. */
  ms: number;
}

/**
 * Non-streamed chats, `concurrency` in flight, for `durationMs` (no new chat starts after it)
 * or until `maxRequests` have started: a time-bounded run suits servers that differ a
 * hundredfold in speed.
 */
export async function loadRun(
  agent: Agent,
  target: GatewayTarget,
  model: string,
  opts: { durationMs: number; maxRequests: number; concurrency: number; wantChars: number },
): Promise<LoadResult> {
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  let started = 0;
  const out: LoadResult = { ok: 0, bad: 0, failed: 0, ms: 0 };
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (started < opts.maxRequests && performance.now() < deadline) {
        started++;
        try {
          const r = await singleChat(agent, target, model);
          if (r.chars === opts.wantChars) out.ok++;
          else out.bad++;
        } catch (err) {
          out.failed++;
          out.firstError ??= err instanceof Error ? err.message : String(err);
          // A failing server is not hammered for the rest of the run.
          if (out.failed >= 100) return;
        }
      }
    }),
  );
  out.ms = performance.now() - t0;
  return out;
}

/** What a many-streams-at-once run did. */
export interface ManyResult {
  streams: number;
  complete: number;
  failed: number;
  firstError?: string;
  /** The most streams that had their first chunk and had not ended, at one time. */
  peakOpen: number;
  ms: number;
}

/** Opens `streams` streamed chats at once and waits for all of them. */
export async function manyStreams(agent: Agent, target: GatewayTarget, model: string, streams: number, wantChunks: number): Promise<ManyResult> {
  const t0 = performance.now();
  let open = 0;
  let peakOpen = 0;
  const one = async (): Promise<GatewayCall> => {
    // Open = streaming: first chunk received, end not yet. A slow gateway that cannot take
    // all streams at once shows here as a peak below `streams`.
    let streaming = false;
    try {
      return await streamChat(agent, target, model, () => {
        streaming = true;
        open++;
        if (open > peakOpen) peakOpen = open;
      });
    } finally {
      if (streaming) open--;
    }
  };
  const results = await Promise.allSettled(Array.from({ length: streams }, one));
  const out: ManyResult = { streams, complete: 0, failed: 0, peakOpen, ms: performance.now() - t0 };
  for (const r of results) {
    if (r.status === 'fulfilled' && r.value.chunks === wantChunks) out.complete++;
    else {
      out.failed++;
      out.firstError ??= r.status === 'rejected' ? String(r.reason) : `received ${r.value.chunks} of ${wantChunks} chunks`;
    }
  }
  return out;
}
