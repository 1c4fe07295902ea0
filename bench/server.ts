/**
 * A synthetic Ollama server for the benchmarks, run in its own process so that its work
 * never shares an event loop with the client being measured.
 *
 * Started by bench/spawn.ts through `fork`; reports `{ type: 'ready', port }` over IPC (or
 * prints `BENCH_SERVER_PORT=<port>` when run by hand) and answers `{ type: 'cpu' }` with its
 * CPU time (so the runner can tell whether the server was the bottleneck) and how many
 * streamed and non-streamed chats it has answered.
 *
 * Besides Ollama's native `/api/chat` it answers Ollama's OpenAI-compatible
 * `/v1/chat/completions` (SSE) with the same tokens, for the gateways that speak OpenAI upstream
 * and for the direct OpenAI-protocol row of the gateway benchmark.
 *
 * Streamed bodies are built once per chunk count and written in large slices as fast as the
 * socket accepts them, honouring backpressure; the first chunk is flushed on its own, as a
 * real server sends the first token before the rest exist.
 *
 * Options for the fleet benchmark (bench/fleet.ts), which runs several of these as the hosts of
 * one fleet: `--slots=<n>` answers at most n chats at a time and queues the rest in arrival
 * order before any byte is sent, as an Ollama with `OLLAMA_NUM_PARALLEL=n` does;
 * `--models=<a>,<b>` lists those names in `/api/tags` and as loaded in `/api/ps` (by default
 * `/api/tags` lists `bench:latest` and `/api/ps` nothing).
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import {
  chunkLine,
  doneLine,
  oaiChunkEvent,
  oaiDoneEvents,
  oaiSingleBody,
  oaiStreamBody,
  parseMode,
  singleBody,
  streamBody,
} from './synthetic.js';

/** Bytes per `write()` of a fast stream: large enough that syscalls are not the limit. */
const SLICE_BYTES = 32 * 1024;

/**
 * Chat requests answered so far, by whether they asked for a stream (the runner reports what
 * each client sent), and requests for paths this server does not answer (a gateway probing
 * something it expects an Ollama to have).
 */
const served = { streamed: 0, single: 0, notFound: 0, lastNotFound: '' };

const streamCache = new Map<string, { first: Buffer; rest: Buffer }>();
const singleCache = new Map<string, Buffer>();

/** The wire format of a chat answer: Ollama's NDJSON or the OpenAI-compatible SSE. */
type Wire = 'ollama' | 'openai';

function streamBuffers(wire: Wire, model: string, n: number, includeUsage = false): { first: Buffer; rest: Buffer } {
  const key = `${wire}\u0000${model}\u0000${n}\u0000${includeUsage}`;
  let hit = streamCache.get(key);
  if (!hit) {
    const all = Buffer.from(wire === 'ollama' ? streamBody(model, n) : oaiStreamBody(model, n, includeUsage));
    const firstLine = wire === 'ollama' ? chunkLine(model, 0) : oaiChunkEvent(model, 0);
    const firstLen = n > 0 ? Buffer.byteLength(firstLine) : 0;
    hit = { first: all.subarray(0, firstLen), rest: all.subarray(firstLen) };
    streamCache.set(key, hit);
  }
  return hit;
}

function singleBuffer(wire: Wire, model: string, n: number): Buffer {
  const key = `${wire}\u0000${model}\u0000${n}`;
  let hit = singleCache.get(key);
  if (!hit) {
    hit = Buffer.from(wire === 'ollama' ? singleBody(model, n) : oaiSingleBody(model, n));
    singleCache.set(key, hit);
  }
  return hit;
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Writes `buf` in slices, waiting for `drain` whenever the socket pushes back. */
function pump(res: ServerResponse, buf: Buffer): void {
  let off = 0;
  const next = (): void => {
    while (off < buf.length) {
      if (res.destroyed) return;
      const end = Math.min(off + SLICE_BYTES, buf.length);
      const ok = res.write(buf.subarray(off, end));
      off = end;
      if (!ok) {
        res.once('drain', next);
        return;
      }
    }
    res.end();
  };
  next();
}

const CONTENT_TYPE: Record<Wire, string> = { ollama: 'application/x-ndjson', openai: 'text/event-stream' };

function streamFast(res: ServerResponse, wire: Wire, model: string, n: number, includeUsage: boolean): void {
  const { first, rest } = streamBuffers(wire, model, n, includeUsage);
  res.writeHead(200, { 'Content-Type': CONTENT_TYPE[wire] });
  if (first.length > 0) res.write(first);
  // Let the first chunk leave before the bulk, like a server that has only one token yet.
  setImmediate(() => pump(res, rest));
}

function streamSlow(res: ServerResponse, wire: Wire, model: string, intervalMs: number, n: number, includeUsage: boolean): void {
  res.writeHead(200, { 'Content-Type': CONTENT_TYPE[wire] });
  let i = 0;
  const tick = (): void => {
    if (res.destroyed) {
      clearInterval(timer);
      return;
    }
    if (i < n) {
      res.write(wire === 'ollama' ? chunkLine(model, i) : oaiChunkEvent(model, i));
      i++;
      return;
    }
    clearInterval(timer);
    res.end(wire === 'ollama' ? doneLine(model, n) : oaiDoneEvents(model, n, includeUsage));
  };
  const timer = setInterval(tick, intervalMs);
  res.on('close', () => clearInterval(timer));
  tick();
}

function handleChat(wire: Wire, res: ServerResponse, raw: string): void {
  let body: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } };
  try {
    body = raw.trim() === '' ? {} : (JSON.parse(raw) as typeof body);
  } catch (err) {
    sendJson(res, 400, JSON.stringify(wire === 'ollama' ? { error: (err as Error).message } : oaiError((err as Error).message)));
    return;
  }
  const model = typeof body.model === 'string' ? body.model : '';
  if (model === '') {
    sendJson(res, 400, JSON.stringify(wire === 'ollama' ? { error: 'model is required' } : oaiError('model is required')));
    return;
  }
  const mode = parseMode(model);
  // Ollama's native API streams unless told not to; its OpenAI-compatible one only when asked.
  const streamed = wire === 'ollama' ? body.stream !== false : body.stream === true;
  if (!streamed) {
    served.single++;
    sendJson(res, 200, singleBuffer(wire, model, mode.n).toString());
    return;
  }
  served.streamed++;
  const includeUsage = wire === 'openai' && body.stream_options?.include_usage === true;
  if (mode.kind === 'slow') streamSlow(res, wire, model, mode.intervalMs, mode.n, includeUsage);
  else streamFast(res, wire, model, mode.n, includeUsage);
}

/** Ollama's OpenAI-compatible error body. */
function oaiError(message: string): { error: { message: string; type: string; param: null; code: null } } {
  return { error: { message, type: 'invalid_request_error', param: null, code: null } };
}

const TAGS = JSON.stringify({
  models: [
    {
      name: 'bench:latest',
      model: 'bench:latest',
      modified_at: '2025-07-07T20:22:19.184789123Z',
      size: 1_234_567,
      digest: 'a'.repeat(64),
      details: {
        parent_model: '',
        format: 'gguf',
        family: 'llama',
        families: ['llama'],
        parameter_size: '1M',
        quantization_level: 'F16',
      },
    },
  ],
});

/** Command-line options (see the header). */
function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.slice(2).find((a) => a.startsWith(prefix))?.slice(prefix.length);
}
const SLOTS = Number(option('slots') ?? '0') || Infinity;
const MODELS = (option('models') ?? '').split(',').filter((m) => m !== '');

/** Chats waiting for a slot (only with `--slots`), first come first served. */
const waiting: (() => void)[] = [];
let busy = 0;

/** Runs `start` when a slot is free; `res` frees it when the answer ends or the client leaves. */
function withSlot(res: ServerResponse, start: () => void): void {
  if (SLOTS === Infinity) {
    start();
    return;
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    busy--;
    const next = waiting.shift();
    if (next) next();
  };
  const run = (): void => {
    busy++;
    res.once('close', release);
    if (res.destroyed) {
      release();
      return;
    }
    start();
  };
  if (busy < SLOTS) run();
  else waiting.push(run);
}

function modelEntry(name: string): Record<string, unknown> {
  return {
    name,
    model: name,
    modified_at: '2025-07-07T20:22:19.184789123Z',
    size: 1_234_567,
    digest: 'a'.repeat(64),
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '1M', quantization_level: 'F16' },
  };
}

const TAGS_BODY = MODELS.length === 0 ? TAGS : JSON.stringify({ models: MODELS.map(modelEntry) });
const PS_BODY = JSON.stringify({
  models: MODELS.map((name) => ({ ...modelEntry(name), expires_at: '2099-01-01T00:00:00Z', size_vram: 1_234_567, context_length: 4096 })),
});

const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 0, noDelay: true });
server.maxRequestsPerSocket = 0;

server.on('request', (req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'POST' && (url === '/api/chat' || url === '/v1/chat/completions')) {
    const wire: Wire = url === '/api/chat' ? 'ollama' : 'openai';
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => withSlot(res, () => handleChat(wire, res, Buffer.concat(parts).toString())));
    return;
  }
  req.resume();
  if ((req.method === 'GET' || req.method === 'HEAD') && url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Ollama is running');
  } else if ((req.method === 'GET' || req.method === 'HEAD') && url === '/api/version') {
    sendJson(res, 200, '{"version":"0.9.6"}');
  } else if ((req.method === 'GET' || req.method === 'HEAD') && url === '/api/tags') {
    sendJson(res, 200, TAGS_BODY);
  } else if ((req.method === 'GET' || req.method === 'HEAD') && url === '/api/ps') {
    sendJson(res, 200, PS_BODY);
  } else {
    served.notFound++;
    served.lastNotFound = `${req.method ?? ''} ${url}`;
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('404 page not found');
  }
});

process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage(), served });
  if (msg.type === 'close') {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});
// The parent going away must not leave this server behind.
process.on('disconnect', () => process.exit(0));

// A large backlog: the memory test opens a thousand connections at once.
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  if (process.send) process.send({ type: 'ready', port });
  else process.stdout.write(`BENCH_SERVER_PORT=${port}\n`);
});
