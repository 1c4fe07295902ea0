/**
 * A synthetic Ollama server for the benchmarks, run in its own process so that its work
 * never shares an event loop with the client being measured.
 *
 * Started by bench/spawn.ts through `fork`; reports `{ type: 'ready', port }` over IPC (or
 * prints `BENCH_SERVER_PORT=<port>` when run by hand) and answers `{ type: 'cpu' }` with its
 * CPU time (so the runner can tell whether the server was the bottleneck) and how many
 * streamed and non-streamed chats it has answered.
 *
 * Streamed bodies are built once per chunk count and written in large slices as fast as the
 * socket accepts them, honouring backpressure; the first chunk is flushed on its own, as a
 * real server sends the first token before the rest exist.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { chunkLine, doneLine, parseMode, singleBody, streamBody } from './synthetic.js';

/** Bytes per `write()` of a fast stream: large enough that syscalls are not the limit. */
const SLICE_BYTES = 32 * 1024;

/** Chat requests answered so far, by whether they asked for a stream: the runner reports what each client sent. */
const served = { streamed: 0, single: 0 };

const streamCache = new Map<string, { first: Buffer; rest: Buffer }>();
const singleCache = new Map<string, Buffer>();

function streamBuffers(model: string, n: number): { first: Buffer; rest: Buffer } {
  const key = `${model}\u0000${n}`;
  let hit = streamCache.get(key);
  if (!hit) {
    const all = Buffer.from(streamBody(model, n));
    const firstLen = n > 0 ? Buffer.byteLength(chunkLine(model, 0)) : 0;
    hit = { first: all.subarray(0, firstLen), rest: all.subarray(firstLen) };
    streamCache.set(key, hit);
  }
  return hit;
}

function singleBuffer(model: string, n: number): Buffer {
  const key = `${model}\u0000${n}`;
  let hit = singleCache.get(key);
  if (!hit) {
    hit = Buffer.from(singleBody(model, n));
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

function streamFast(res: ServerResponse, model: string, n: number): void {
  const { first, rest } = streamBuffers(model, n);
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  if (first.length > 0) res.write(first);
  // Let the first chunk leave before the bulk, like a server that has only one token yet.
  setImmediate(() => pump(res, rest));
}

function streamSlow(res: ServerResponse, model: string, intervalMs: number, n: number): void {
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  let i = 0;
  const tick = (): void => {
    if (res.destroyed) {
      clearInterval(timer);
      return;
    }
    if (i < n) {
      res.write(chunkLine(model, i));
      i++;
      return;
    }
    clearInterval(timer);
    res.end(doneLine(model, n));
  };
  const timer = setInterval(tick, intervalMs);
  res.on('close', () => clearInterval(timer));
  tick();
}

function handleChat(req: IncomingMessage, res: ServerResponse, raw: string): void {
  let body: { model?: unknown; stream?: unknown };
  try {
    body = raw.trim() === '' ? {} : (JSON.parse(raw) as typeof body);
  } catch (err) {
    sendJson(res, 400, JSON.stringify({ error: (err as Error).message }));
    return;
  }
  const model = typeof body.model === 'string' ? body.model : '';
  if (model === '') {
    sendJson(res, 400, '{"error":"model is required"}');
    return;
  }
  const mode = parseMode(model);
  if (body.stream === false) {
    served.single++;
    sendJson(res, 200, singleBuffer(model, mode.n).toString());
    return;
  }
  served.streamed++;
  if (mode.kind === 'slow') streamSlow(res, model, mode.intervalMs, mode.n);
  else streamFast(res, model, mode.n);
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

const server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 0, noDelay: true });
server.maxRequestsPerSocket = 0;

server.on('request', (req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'POST' && url === '/api/chat') {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => handleChat(req, res, Buffer.concat(parts).toString()));
    return;
  }
  req.resume();
  if ((req.method === 'GET' || req.method === 'HEAD') && url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Ollama is running');
  } else if ((req.method === 'GET' || req.method === 'HEAD') && url === '/api/version') {
    sendJson(res, 200, '{"version":"0.9.6"}');
  } else if ((req.method === 'GET' || req.method === 'HEAD') && url === '/api/tags') {
    sendJson(res, 200, TAGS);
  } else {
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
