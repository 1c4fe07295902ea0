/**
 * The Ollama fleet against three real `ollama serve` processes on loopback ports: the tiny model
 * on all three, the real small model (Gemma) on the second only. Routing to the only host with a
 * model, preference for the host where the model is loaded (checked with `/api/ps`), stickiness,
 * a host killed before the first byte (failover) and mid-stream (`connection_lost` with the
 * partial text), a host that comes back on the same port, and queueing when every slot is busy.
 * The steps build on each other, so they run in order on one fleet.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../src/core/errors.js';
import type { ChatChunk, ChatRequest } from '../../src/core/types.js';
import { OllamaFleet } from '../../src/providers/ollama/fleet/fleet.js';
import type { FleetEvent } from '../../src/providers/ollama/fleet/types.js';
import { ensureGemmaModel } from '../../scripts/get-model.js';
import { GEMMA_MODEL, SHARED_BIN_ENV, TINY_MODELS, ollamaSkipReason, startOllama } from '../support/ollama-harness.js';
import type { OllamaServer } from '../support/ollama-harness.js';

const skip = ollamaSkipReason();
const TINY = `${TINY_MODELS.plain}:latest`;
const STEP = { timeout: 120_000 };

const hi = (options: ChatRequest['options'] = {}, model: string = TINY_MODELS.plain): ChatRequest => ({
  model,
  messages: [{ role: 'user', content: 'hello there' }],
  options: { num_predict: 4, temperature: 0, ...options },
});

async function loadedOn(server: OllamaServer): Promise<string[]> {
  const res = await fetch(`${server.url}/api/ps`);
  const body = (await res.json()) as { models: { name: string }[] };
  return body.models.map((m) => m.name);
}

async function until(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('OllamaFleet with three real ollama serve processes', { skip }, () => {
  let servers: OllamaServer[] = [];
  let gemmaSkip: string | undefined;
  let fleet: OllamaFleet;
  const events: FleetEvent[] = [];
  const url = (i: number): string => (servers[i] as OllamaServer).url;

  before(
    async () => {
      const bin = process.env[SHARED_BIN_ENV] || undefined;
      let gemmaFile: string | undefined;
      try {
        gemmaFile = (await ensureGemmaModel({ log: () => {} })).path;
      } catch (error) {
        gemmaSkip = `the real small model is NOT AVAILABLE: ${(error as Error).message}`;
      }
      // In parallel: server start and model import dominate this file's time.
      servers = await Promise.all([
        startOllama({ ...(bin === undefined ? {} : { bin }) }),
        startOllama({ ...(bin === undefined ? {} : { bin }), ...(gemmaFile === undefined ? {} : { gemmaFile }) }),
        startOllama({ ...(bin === undefined ? {} : { bin }) }),
      ]);
      fleet = new OllamaFleet({
        hosts: servers.map((s) => ({ url: s.url, weight: 1, labels: [], maxConcurrent: 1 })),
        fleet: { probeIntervalMs: 200, breakerCooldownMs: 500, breakerThreshold: 2, refreshIntervalMs: 0, queueTimeoutMs: 60_000 },
        provider: { model: TINY_MODELS.plain, timeouts: { connectMs: 2000, loadMs: 120_000, idleMs: 60_000 } },
        onEvent: (e) => events.push(e),
        // The first of equal hosts, so every choice below is deterministic.
        random: () => 0,
      });
    },
    { timeout: 10 * 60_000 },
  );
  after(async () => {
    await fleet?.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  test('a model on one host only goes to that host', STEP, async (t) => {
    if (gemmaSkip !== undefined) return t.skip(gemmaSkip);
    const res = await fleet.chat(hi({}, GEMMA_MODEL));
    assert.equal(res.host, url(1));
    assert.ok(res.message.content.length > 0);
    assert.deepEqual(await loadedOn(servers[0] as OllamaServer), []);
    assert.ok((await loadedOn(servers[1] as OllamaServer)).some((n) => n.startsWith(GEMMA_MODEL)));
  });

  test('the host where the model is loaded is preferred (checked with /api/ps)', STEP, async () => {
    const first = await fleet.chat(hi());
    assert.equal(first.host, url(0), 'idle hosts: the first of equals');
    assert.deepEqual(await loadedOn(servers[0] as OllamaServer), [TINY]);
    assert.ok(!(await loadedOn(servers[2] as OllamaServer)).includes(TINY));
    await fleet.refresh();
    assert.deepEqual(fleet.snapshot().hosts[0]?.loaded.map((l) => l.model), [TINY]);
    // Another conversation (another opening), so the loaded host, not the sticky one, decides.
    const again = await fleet.chat({ ...hi(), messages: [{ role: 'user', content: 'hello again' }] });
    assert.equal(again.host, url(0));
    assert.ok(events.some((e) => e.type === 'route' && e.host === url(0) && e.reason === 'loaded'));
  });

  test('a conversation sticks to its host while another host would be preferred', STEP, async () => {
    // Host 0's only slot is busy, so the conversation starts on the next host and is pinned there.
    const ctl = new AbortController();
    const long = fleet.chatStream(hi({ num_predict: 100_000 }), { signal: ctl.signal });
    const iterator = long[Symbol.asyncIterator]();
    await iterator.next();
    const pinned = await fleet.chat(hi(), { stickyKey: 'conversation-1' });
    assert.notEqual(pinned.host, url(0));
    ctl.abort();
    await iterator.next().catch(() => undefined);
    await iterator.return?.();
    await until(() => fleet.snapshot().hosts[0]?.inFlight === 0, 'host 0 to be free');
    // Host 0 is free and first among loaded hosts, but the conversation stays where it began.
    for (let i = 0; i < 3; i++) assert.equal((await fleet.chat(hi(), { stickyKey: 'conversation-1' })).host, pinned.host);
    assert.equal((await fleet.chat({ ...hi(), messages: [{ role: 'user', content: 'a new conversation' }] })).host, url(0), 'another conversation: the first loaded host');
  });

  test('a host killed before the first byte: the request fails over to the next host', STEP, async () => {
    await (servers[0] as OllamaServer).kill();
    const chunks: ChatChunk[] = [];
    for await (const c of fleet.chatStream(hi())) chunks.push(c);
    const final = chunks.at(-1) as ChatChunk;
    assert.deepEqual(final.hostAttempts?.map((a) => [a.host, a.outcome]), [
      [url(0), 'unavailable'],
      [final.host, 'ok'],
    ]);
    assert.notEqual(final.host, url(0));
    assert.ok(events.some((e) => e.type === 'failover' && e.from === url(0)));
  });

  test('a host that comes back on the same port rejoins without a restart of Omega', STEP, async () => {
    await until(() => fleet.snapshot().hosts[0]?.circuit === 'open', 'the circuit of the dead host to open');
    await (servers[0] as OllamaServer).restart();
    await until(() => fleet.snapshot().hosts[0]?.circuit === 'closed' && fleet.snapshot().hosts[0]?.up === true, 'the host to rejoin');
    assert.ok(fleet.snapshot().hosts[0]?.models.includes(TINY), 'its models are discovered again');
    const res = await fleet.chat(hi(), { stickyKey: 'after-restart' });
    assert.ok(res.message.content.length > 0);
    const lease = await fleet.acquire(TINY_MODELS.plain, { exclude: new Set([url(1), url(2)]) });
    try {
      assert.equal(lease.host, url(0));
      assert.ok((await lease.provider.chat(hi())).message.content.length > 0);
    } finally {
      lease.release();
    }
  });

  test('a host killed mid-stream: connection_lost with the partial text, no restart elsewhere', STEP, async () => {
    // Host 0 is the first of the equal hosts and answers this one.
    let received = '';
    let pieces = 0;
    let host: string | undefined;
    const victim = (): OllamaServer => servers.find((s) => s.url === host) as OllamaServer;
    const error = await (async () => {
      try {
        for await (const c of fleet.chatStream(hi({ num_predict: 100_000 }), { stickyKey: 'mid-stream' })) {
          received += c.content;
          pieces++;
          if (pieces === 1) host = fleet.snapshot().hosts.find((h) => h.inFlight > 0)?.url;
          if (pieces === 5) await victim().kill();
        }
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof ProviderError, `a ProviderError, got ${String(error)}`);
    assert.equal(error.code, 'connection_lost', error.message);
    assert.equal(error.partialText, received);
    assert.ok(received.length > 0);
    assert.equal(error.baseUrl, host);
    assert.equal(fleet.snapshot().hosts.reduce((n, h) => n + h.inFlight, 0), 0);
    await victim().restart();
  });

  test('every slot busy: the next request waits in the queue and runs when a slot frees', STEP, async () => {
    await until(() => fleet.snapshot().hosts.every((h) => h.up && h.circuit === 'closed'), 'all hosts up');
    const controllers = servers.map(() => new AbortController());
    const iterators: AsyncIterator<ChatChunk>[] = [];
    const hostOf: string[] = [];
    for (const [i, ctl] of controllers.entries()) {
      const it = fleet.chatStream(hi({ num_predict: 100_000 }), { signal: ctl.signal })[Symbol.asyncIterator]();
      await it.next();
      iterators.push(it);
      const busy = fleet.snapshot().hosts.filter((h) => h.inFlight > 0).map((h) => h.url);
      hostOf[i] = busy.find((u) => !hostOf.includes(u)) ?? '';
    }
    assert.deepEqual(fleet.snapshot().hosts.map((h) => h.inFlight), [1, 1, 1]);
    const queued = fleet.chat(hi());
    await until(() => fleet.snapshot().queues[0]?.waiting === 1, 'the request to queue');
    assert.ok(events.some((e) => e.type === 'queued'));
    controllers[1]?.abort();
    await iterators[1]?.next().catch(() => undefined);
    const res = await queued;
    assert.equal(res.host, hostOf[1], 'the freed slot');
    for (const c of controllers) c.abort();
    await Promise.all(iterators.map((it) => it.return?.().catch(() => undefined)));
    await until(() => fleet.snapshot().hosts.every((h) => h.inFlight === 0), 'every slot released');
    assert.deepEqual(fleet.snapshot().queues, []);
  });
});
