import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { HttpTransport, isTransportError } from '../../src/http/index.js';
import type { HttpRequest, TransportError } from '../../src/http/index.js';
import type { Timeouts } from '../../src/core/types.js';
import { FakeOllama, ndjson } from '../support/fake-ollama.js';

const T: Timeouts = { connectMs: 2000, loadMs: 5000, idleMs: 5000, requestMs: 0 };

let fake: FakeOllama;
before(async () => {
  fake = await FakeOllama.start();
});
after(async () => {
  await fake.close();
});

function get(path: string, extra: Partial<HttpRequest> = {}): HttpRequest {
  return { origin: fake.url, path, method: 'GET', ...extra };
}

function isKind(kind: TransportError['kind'], phase?: string) {
  return (e: unknown) => {
    assert.ok(isTransportError(e), `expected a TransportError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    if (phase !== undefined) assert.equal(e.phase, phase);
    return true;
  };
}

async function readAll(t: HttpTransport, req: HttpRequest): Promise<{ status: number; text: string }> {
  const res = await t.request(req);
  return { status: res.status, text: await res.body.text() };
}

/** A connector that never connects: the request stays in the connect phase. */
const hangingConnector = () => undefined;

test('answers status and body, and reuses one keep-alive connection', async () => {
  fake.route('GET', '/t/ok', { body: { ok: true } });
  const t = new HttpTransport({ timeouts: T });
  const before = fake.connections;
  for (let i = 0; i < 20; i++) {
    const r = await readAll(t, get('/t/ok'));
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.text), { ok: true });
  }
  // undici may open a second socket when the next request is dispatched in the same tick the
  // previous response ended; after that the pool reuses what it has.
  assert.ok(fake.connections - before <= 2, `${fake.connections - before} connections for 20 requests`);
  assert.equal(t.poolCount, 1);
  await t.close();
});

test('connection refused is `unreachable` at once', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  // Refused must not wait for the connect limit.
  const t = new HttpTransport({ timeouts: { ...T, connectMs: 20_000 } });
  const start = Date.now();
  await assert.rejects(t.request({ origin: `http://127.0.0.1:${port}`, path: '/', method: 'GET' }), (e: unknown) => {
    isKind('unreachable')(e);
    assert.equal((e as TransportError).errno, 'ECONNREFUSED');
    return true;
  });
  assert.ok(Date.now() - start < 10_000);
  await t.close();
});

test('connect timeout names the connect phase', async () => {
  const t = new HttpTransport({ timeouts: { ...T, connectMs: 100 }, connect: hangingConnector });
  await assert.rejects(t.request(get('/never')), (e: unknown) => {
    isKind('timeout', 'connect')(e);
    assert.equal((e as TransportError).timeoutMs, 100);
    return true;
  });
  await t.close();
});

test('load (first byte) timeout', async () => {
  fake.route('GET', '/t/slow-headers', { delayMs: 2000, body: 'late' });
  const t = new HttpTransport({ timeouts: { ...T, loadMs: 100 } });
  await assert.rejects(t.request(get('/t/slow-headers')), isKind('timeout', 'load'));
  await t.close();
});

test('per-request timeouts override the defaults', async () => {
  fake.route('GET', '/t/slow-headers2', { delayMs: 2000, body: 'late' });
  const t = new HttpTransport({ timeouts: T });
  await assert.rejects(t.request(get('/t/slow-headers2', { timeouts: { loadMs: 80 } })), isKind('timeout', 'load'));
  await t.close();
});

test('idle timeout between body chunks', async () => {
  fake.route('GET', '/t/stall', { steps: [{ write: 'first\n' }, { delay: 3000 }, { write: 'second\n' }] });
  const t = new HttpTransport({ timeouts: { ...T, idleMs: 150 } });
  const res = await t.request(get('/t/stall'));
  const first = await res.body.wait();
  assert.equal(first?.toString(), 'first\n');
  await assert.rejects(res.body.wait(), isKind('timeout', 'idle'));
  assert.equal(res.body.finished, true);
  await t.close();
});

test('a steady stream longer than the idle timeout is not cut off', async () => {
  const steps = [];
  for (let i = 0; i < 8; i++) steps.push({ write: `${i}\n` }, { delay: 40 });
  fake.route('GET', '/t/steady', { steps });
  const t = new HttpTransport({ timeouts: { ...T, idleMs: 200 } });
  const r = await readAll(t, get('/t/steady'));
  assert.equal(r.text, '0\n1\n2\n3\n4\n5\n6\n7\n');
  await t.close();
});

test('whole-request timeout', async () => {
  const steps = [];
  for (let i = 0; i < 50; i++) steps.push({ write: `${i}\n` }, { delay: 30 });
  fake.route('GET', '/t/long', { steps });
  const t = new HttpTransport({ timeouts: { ...T, idleMs: 1000, requestMs: 200 } });
  const res = await t.request(get('/t/long'));
  await assert.rejects(res.body.text(), isKind('timeout', 'request'));
  await t.close();
});

test('data waiting for a slow consumer is not server silence', async () => {
  fake.route('GET', '/t/then-hang', { steps: [{ write: 'A' }, { delay: 20 }, { write: 'B' }, { hang: true }] });
  const t = new HttpTransport({ timeouts: { ...T, idleMs: 150 } });
  const res = await t.request(get('/t/then-hang'));
  assert.equal((await res.body.wait())?.toString(), 'A');
  await new Promise((r) => setTimeout(r, 400));
  // B arrived while we slept longer than the idle limit: it is still delivered.
  assert.equal((await res.body.wait())?.toString(), 'B');
  await assert.rejects(res.body.wait(), isKind('timeout', 'idle'));
  await t.close();
});

test('abort before the connection exists', async () => {
  const t = new HttpTransport({ timeouts: { ...T, connectMs: 20_000 }, connect: hangingConnector });
  const ac = new AbortController();
  const p = t.request(get('/never', { signal: ac.signal }));
  setTimeout(() => ac.abort(), 30);
  const start = Date.now();
  await assert.rejects(p, isKind('aborted'));
  assert.ok(Date.now() - start < 10_000);
  await t.close();
});

test('an already-aborted signal sends nothing', async () => {
  fake.route('GET', '/t/not-sent', { body: 'x' });
  const t = new HttpTransport({ timeouts: T });
  await assert.rejects(t.request(get('/t/not-sent', { signal: AbortSignal.abort() })), isKind('aborted'));
  assert.equal(fake.requestsTo('/t/not-sent').length, 0);
  await t.close();
});

test('abort before the first byte closes the request', async () => {
  fake.route('GET', '/t/abort-load', { delayMs: 5000, body: 'late' });
  const t = new HttpTransport({ timeouts: T });
  const ac = new AbortController();
  const p = t.request(get('/t/abort-load', { signal: ac.signal }));
  await fake.waitFor(() => fake.requestsTo('/t/abort-load').length === 1, 2000, 'request');
  ac.abort();
  await assert.rejects(p, isKind('aborted'));
  await fake.waitFor(() => fake.requestsTo('/t/abort-load')[0]?.closedEarly === true, 2000, 'server-side close');
  await t.close();
});

test('abort mid-stream cancels only that request', async () => {
  const steps = [];
  for (let i = 0; i < 10; i++) steps.push({ write: `${i}\n` }, { delay: 20 });
  fake.route('GET', '/t/two', { steps });
  const t = new HttpTransport({ timeouts: T });
  const ac = new AbortController();
  const a = await t.request(get('/t/two', { signal: ac.signal }));
  const b = await t.request(get('/t/two'));
  assert.equal((await a.body.wait())?.toString(), '0\n');
  ac.abort();
  await assert.rejects(a.body.wait(), isKind('aborted'));
  assert.equal(await b.body.text(), '0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n');
  await fake.waitFor(() => fake.requestsTo('/t/two').filter((r) => r.closedEarly).length === 1, 2000, 'one close');
  await t.close();
});

test('cancel() closes the connection; release() after the end keeps it', async () => {
  fake.route('GET', '/t/cancel', { steps: [{ write: 'x\n' }, { hang: true }] });
  fake.route('GET', '/t/small', { body: 'small' });
  const t = new HttpTransport({ timeouts: T });
  const res = await t.request(get('/t/cancel'));
  await res.body.wait();
  res.body.cancel();
  assert.equal(res.body.finished, true);
  await fake.waitFor(() => fake.requestsTo('/t/cancel')[0]?.closedEarly === true, 2000, 'close');
  const before = fake.connections;
  for (let i = 0; i < 10; i++) {
    const r = await t.request(get('/t/small'));
    await new Promise((r2) => setTimeout(r2, 5));
    r.body.release();
  }
  assert.equal(fake.requestsTo('/t/small').filter((r) => r.closedEarly).length, 0);
  assert.ok(fake.connections - before <= 2, `${fake.connections - before} connections for 10 requests`);
  await t.close();
});

test('release() of an unfinished body cuts it off after the grace period', async () => {
  fake.route('GET', '/t/release-hang', { steps: [{ write: 'x\n' }, { hang: true }] });
  const t = new HttpTransport({ timeouts: T });
  const res = await t.request(get('/t/release-hang'));
  await res.body.wait();
  res.body.release(50);
  await fake.waitFor(() => fake.requestsTo('/t/release-hang')[0]?.closedEarly === true, 2000, 'close');
  await t.close();
});

test('a reset mid-stream is `connection_lost` after the data that did arrive', async () => {
  fake.route('GET', '/t/reset', { steps: [{ write: 'partial\n' }, { delay: 30 }, { reset: true }] });
  const t = new HttpTransport({ timeouts: T });
  const res = await t.request(get('/t/reset'));
  assert.equal((await res.body.wait())?.toString(), 'partial\n');
  await assert.rejects(res.body.wait(), isKind('connection_lost'));
  await t.close();
});

test('a reset before the headers is `connection_lost`', async () => {
  fake.route('GET', '/t/reset-early', { reset: true });
  const t = new HttpTransport({ timeouts: T });
  await assert.rejects(t.request(get('/t/reset-early')), isKind('connection_lost'));
  await t.close();
});

test('a peer that does not speak HTTP is `protocol`', async () => {
  const server = net.createServer((s) => {
    s.resume();
    s.end('this is not http\r\n\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const t = new HttpTransport({ timeouts: T });
  await assert.rejects(t.request({ origin: `http://127.0.0.1:${port}`, path: '/', method: 'GET' }), isKind('protocol'));
  await t.close();
  await new Promise<void>((r) => server.close(() => r()));
});

test('close() fails requests in flight and refuses new ones', async () => {
  fake.route('GET', '/t/close', { steps: [{ write: 'x\n' }, { hang: true }] });
  const t = new HttpTransport({ timeouts: T });
  const res = await t.request(get('/t/close'));
  await res.body.wait();
  const pending = res.body.wait();
  await t.close();
  await assert.rejects(pending, isKind('closed'));
  await assert.rejects(t.request(get('/t/close')), isKind('closed'));
});

test('a slow consumer gets a large body intact (backpressure)', async () => {
  const line = 'y'.repeat(1023) + '\n';
  const steps = [];
  for (let i = 0; i < 1024; i++) steps.push({ write: line });
  fake.route('GET', '/t/big', { steps });
  const t = new HttpTransport({ timeouts: T, highWaterMark: 16 * 1024 });
  const res = await t.request(get('/t/big'));
  let total = 0;
  let reads = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (++reads % 16 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(total, 1024 * 1024);
  await t.close();
});

test('the body is async-iterable and breaking out cancels it', async () => {
  fake.route('GET', '/t/iter', { steps: [{ write: 'a' }, { delay: 10 }, { write: 'b' }, { hang: true }] });
  const t = new HttpTransport({ timeouts: T });
  const res = await t.request(get('/t/iter'));
  for await (const chunk of res.body) {
    assert.equal(chunk.toString(), 'a');
    break;
  }
  assert.equal(res.body.finished, true);
  await fake.waitFor(() => fake.requestsTo('/t/iter')[0]?.closedEarly === true, 2000, 'close');
  await t.close();
});

test('POST sends the body and headers', async () => {
  fake.route('POST', '/t/echo', (req) => ({ body: { got: req.json, type: req.headers['content-type'] } }));
  const t = new HttpTransport({ timeouts: T });
  const r = await readAll(t, {
    origin: fake.url,
    path: '/t/echo',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hello: 'wörld' }),
  });
  assert.deepEqual(JSON.parse(r.text), { got: { hello: 'wörld' }, type: 'application/json' });
  await t.close();
});

test('NDJSON helper sanity: chunks concatenate to the lines written', async () => {
  fake.route('GET', '/t/nd', { steps: [{ write: ndjson({ a: 1 }) }, { write: ndjson({ b: 2 }) }] });
  const t = new HttpTransport({ timeouts: T });
  const r = await readAll(t, get('/t/nd'));
  assert.equal(r.text, '{"a":1}\n{"b":2}\n');
  await t.close();
});
