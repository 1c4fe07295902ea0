/**
 * A minimal relay in front of the synthetic Ollama, on node:http or on fastify, run in its own
 * process by bench/http-choice.ts. The handler is the same for both (undici to the upstream,
 * bytes written as they arrive; a non-streamed answer read whole and sent as JSON), so the
 * difference measured is the HTTP server's own cost. Usage: http-relay.ts <node|fastify> <upstream>
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, request } from 'undici';

const [kind, upstream] = process.argv.slice(2) as [string, string];
const agent = new Agent({ connections: 256 });

async function relay(body: string, res: ServerResponse): Promise<void> {
  const stream = (JSON.parse(body) as { stream?: boolean }).stream !== false;
  const up = await request(`${upstream}/api/chat`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
  if (!stream) {
    const text = await up.body.text();
    res.writeHead(up.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  res.writeHead(up.statusCode, { 'content-type': 'application/x-ndjson' });
  for await (const part of up.body) {
    if (!res.write(part)) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (p: Buffer) => parts.push(p));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

async function main(): Promise<void> {
  let port: number;
  if (kind === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
    // Keep the body a string, as the node:http variant does, so both parse it exactly once.
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    app.post('/api/chat', async (req, reply) => {
      reply.hijack();
      await relay(req.body as string, reply.raw);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  } else {
    const server = createServer((req, res) => {
      void readAll(req).then((body) => relay(body, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  }
  process.send?.({ type: 'ready', port });
}

process.on('message', (m: { type?: string }) => {
  if (m.type === 'close') process.exit(0);
});
void main();
