/**
 * What the synthetic Ollama server says: deterministic chat chunks shaped exactly like
 * Ollama 0.9.6's `/api/chat` output (field order, nanosecond `created_at`, metrics only on
 * the final chunk), so every client parses the same bytes it would meet in production.
 */

/**
 * Short tokens as a real tokenizer produces them: mostly ASCII word pieces, some
 * punctuation and newlines, some that JSON must escape, and multi-byte UTF-8 (2, 3 and
 * 4 bytes) so that decoders meet characters split across network reads.
 */
export const TOKENS: readonly string[] = [
  ' the', ' of', ' and', ' to', ' a', ' in', 'ing', ' is', ' model', ' local', ',', '.',
  ' Ollama', ' stream', 's', ' token', ' that', ' it', ' runs', ' on', ' your', ' machine',
  '\n', '\n\n', ' "', 'quoted', '"', ' path\\to', '\t', ' café', ' naïve', ' über', ' é',
  ' 日本', '語', ' 中文', ' —', ' €5', ' x²', ' 🙂', ' 🚀', 'ñ', ' Привет', ' ok', ':', ' -',
  ' <b>', ' &', ' a<b',
];

/**
 * A JSON string as Go's encoding/json writes it: like JSON.stringify, but with `<`, `>` and
 * `&` escaped as `\u003c`, `\u003e`, `\u0026` (and U+2028/U+2029 escaped), which Ollama's
 * output therefore contains.
 */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Base time of the synthetic stream: the v0.9.6 release day. */
const BASE_MS = Date.UTC(2025, 6, 7, 20, 22, 19, 184);

/** The i-th token of every synthetic stream (a fixed pseudo-random walk over {@link TOKENS}). */
export function tokenAt(i: number): string {
  // Multiplicative hash: deterministic, spread over the list, cheap.
  const k = Math.imul(i + 1, 2654435761) >>> 0;
  return TOKENS[k % TOKENS.length] as string;
}

/** RFC 3339 with nanoseconds and `Z`, as Go's `time.Now().UTC()` marshals. */
export function createdAt(i: number): string {
  const ms = BASE_MS + Math.floor(i / 40);
  const iso = new Date(ms).toISOString(); // 2025-07-07T20:22:19.184Z
  const extra = String((i * 24_571) % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 23)}${extra}Z`;
}

/** One intermediate chunk line (with its trailing newline). */
export function chunkLine(model: string, i: number): string {
  return (
    `{"model":${goJsonString(model)},"created_at":"${createdAt(i)}",` +
    `"message":{"role":"assistant","content":${goJsonString(tokenAt(i))}},"done":false}\n`
  );
}

/** Realistic metrics for a run of `n` tokens, in Go nanoseconds. */
export function metrics(n: number): Record<string, number> {
  const evalNs = n * 9_873_211;
  return {
    total_duration: 412_345_678 + evalNs,
    load_duration: 21_456_789,
    prompt_eval_count: 26,
    prompt_eval_duration: 98_765_432,
    eval_count: n,
    eval_duration: evalNs,
  };
}

/** The final chunk of a stream of `n` tokens (with its trailing newline). */
export function doneLine(model: string, n: number): string {
  const m = metrics(n);
  return (
    `{"model":${goJsonString(model)},"created_at":"${createdAt(n)}",` +
    `"message":{"role":"assistant","content":""},"done_reason":"stop","done":true,` +
    `"total_duration":${m.total_duration},"load_duration":${m.load_duration},` +
    `"prompt_eval_count":${m.prompt_eval_count},"prompt_eval_duration":${m.prompt_eval_duration},` +
    `"eval_count":${m.eval_count},"eval_duration":${m.eval_duration}}\n`
  );
}

/** The whole NDJSON body of a stream of `n` tokens: n chunks, then the done chunk. */
export function streamBody(model: string, n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(chunkLine(model, i));
  parts.push(doneLine(model, n));
  return parts.join('');
}

/** The concatenated text of the first `n` tokens. */
export function expectedText(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += tokenAt(i);
  return s;
}

/** The non-streamed answer for `n` tokens: one object, content concatenated, metrics of the last chunk. */
export function singleBody(model: string, n: number): string {
  const m = metrics(n);
  return (
    `{"model":${goJsonString(model)},"created_at":"${createdAt(n)}",` +
    `"message":{"role":"assistant","content":${goJsonString(expectedText(n))}},"done_reason":"stop","done":true,` +
    `"total_duration":${m.total_duration},"load_duration":${m.load_duration},` +
    `"prompt_eval_count":${m.prompt_eval_count},"prompt_eval_duration":${m.prompt_eval_duration},` +
    `"eval_count":${m.eval_count},"eval_duration":${m.eval_duration}}`
  );
}

/** What the model name asks the synthetic server for. */
export type BenchMode =
  | { kind: 'fast'; n: number }
  | { kind: 'slow'; intervalMs: number; n: number };

/**
 * The model name selects the behaviour, because it is the one request field every client
 * library forwards untouched: `bench-n<N>` streams N chunks as fast as the socket takes them;
 * `slow-i<ms>-n<N>` sends one chunk every `ms` milliseconds, N in all. Anything else is
 * `bench-n100`.
 */
export function parseMode(model: string): BenchMode {
  const name = model.replace(/:latest$/, '');
  let m = /^bench-n(\d+)$/.exec(name);
  if (m) return { kind: 'fast', n: Number(m[1]) };
  m = /^slow-i(\d+)-n(\d+)$/.exec(name);
  if (m) return { kind: 'slow', intervalMs: Number(m[1]), n: Number(m[2]) };
  return { kind: 'fast', n: 100 };
}

// ---------------------------------------------------------------------------------------------
// The same tokens through Ollama's OpenAI-compatible `/v1/chat/completions`, as 0.9.6 writes
// it: one SSE `data:` event per chunk (Go's JSON, so `<`, `>`, `&` escaped), a last chunk
// with `finish_reason`, an optional usage chunk, then `data: [DONE]`. The gateways that speak
// OpenAI upstream (Portkey's Ollama provider does) read these bytes.

/** Seconds since the epoch that every synthetic OpenAI chunk carries. */
const OAI_CREATED = Math.floor(BASE_MS / 1000);

function oaiChunk(model: string, content: string, finish: string | null): string {
  return (
    `{"id":"chatcmpl-417","object":"chat.completion.chunk","created":${OAI_CREATED},"model":${goJsonString(model)},` +
    `"system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":${goJsonString(content)}},` +
    `"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]}`
  );
}

/** One intermediate SSE event of the OpenAI-compatible stream (with its blank line). */
export function oaiChunkEvent(model: string, i: number): string {
  return `data: ${oaiChunk(model, tokenAt(i), null)}\n\n`;
}

/** The closing events of an OpenAI-compatible stream of `n` tokens: finish chunk, usage chunk if asked, `[DONE]`. */
export function oaiDoneEvents(model: string, n: number, includeUsage: boolean): string {
  let s = `data: ${oaiChunk(model, '', 'stop')}\n\n`;
  if (includeUsage) {
    const m = metrics(n);
    s +=
      `data: {"id":"chatcmpl-417","object":"chat.completion.chunk","created":${OAI_CREATED},"model":${goJsonString(model)},` +
      `"system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":${m.prompt_eval_count},` +
      `"completion_tokens":${n},"total_tokens":${(m.prompt_eval_count ?? 0) + n}}}\n\n`;
  }
  return `${s}data: [DONE]\n\n`;
}

/** The whole SSE body of an OpenAI-compatible stream of `n` tokens. */
export function oaiStreamBody(model: string, n: number, includeUsage: boolean): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(oaiChunkEvent(model, i));
  parts.push(oaiDoneEvents(model, n, includeUsage));
  return parts.join('');
}

/** The non-streamed OpenAI-compatible answer for `n` tokens. */
export function oaiSingleBody(model: string, n: number): string {
  const m = metrics(n);
  return (
    `{"id":"chatcmpl-417","object":"chat.completion","created":${OAI_CREATED},"model":${goJsonString(model)},` +
    `"system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":${goJsonString(expectedText(n))}},` +
    `"finish_reason":"stop"}],"usage":{"prompt_tokens":${m.prompt_eval_count},"completion_tokens":${n},` +
    `"total_tokens":${(m.prompt_eval_count ?? 0) + n}}}`
  );
}
