/**
 * OllamaFleet against fake hosts (real loopback HTTP servers): routing and its metadata,
 * on-demand discovery with its thundering-herd guard, failover, the breaker's states on real
 * failures, `connection_lost` mid-stream, queue bounds and timeouts, and slot release on every path.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../../../src/core/errors.js';
import type { ChatChunk, ChatRequest } from '../../../../src/core/types.js';
import { Gateway } from '../../../../src/gateway/gateway.js';
import { SqliteMemory } from '../../../../src/gateway/memory/sqlite.js';
import { OllamaFleet } from '../../../../src/providers/ollama/fleet/fleet.js';
import type { OllamaFleetOptions } from '../../../../src/providers/ollama/fleet/fleet.js';
import type { FleetEvent, FleetOptions } from '../../../../src/providers/ollama/fleet/types.js';
import { FakeFleetHost } from '../../../support/fake-fleet-host.js';
import type { FakeFleetHostOptions } from '../../../support/fake-fleet-host.js';
import { testConfig } from '../../../gateway/helpers.js';

const M = 'llama3:latest';
const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

async function hosts(...specs: FakeFleetHostOptions[]): Promise<FakeFleetHost[]> {
  const started = await Promise.all(specs.map((s) => FakeFleetHost.start(s)));
  open.push(...started);
  return started;
}

interface Made {
  fleet: OllamaFleet;
  events: FleetEvent[];
}

function fleetOf(fakes: FakeFleetHost[], fleet: Partial<FleetOptions> = {}, extra: Partial<OllamaFleetOptions> & { slots?: number[] } = {}): Made {
  const events: FleetEvent[] = [];
  const f = new OllamaFleet({
    hosts: fakes.map((h, i) => ({ url: h.url, weight: 1, labels: [], ...(extra.slots?.[i] === undefined ? {} : { maxConcurrent: extra.slots[i] }) })),
    fleet: { refreshIntervalMs: 0, probeIntervalMs: 0, ...fleet },
    provider: { model: 'llama3', timeouts: { connectMs: 1000, loadMs: 3000, idleMs: 3000 } },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  open.push(f);
  return { fleet: f, events };
}

async function collect(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

function inFlight(fleet: OllamaFleet): number {
  return fleet.snapshot().hosts.reduce((n, h) => n + h.inFlight, 0);
}

async function until(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rejects(p: Promise<unknown>, code: string): Promise<ProviderError> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof ProviderError, `a ProviderError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a ${code} failure`);
}

test('routes to the only host with the model; the answer names the host, streamed and whole', async () => {
  const [a, b] = await hosts({ models: ['other'] }, { models: ['llama3'] });
  const { fleet, events } = fleetOf([a as FakeFleetHost, b as FakeFleetHost]);
  const chunks = await collect(fleet.chatStream(ask));
  const final = chunks.at(-1) as ChatChunk;
  assert.equal(chunks.map((c) => c.content).join(''), `Hello from ${new URL(b?.url ?? '').port}`);
  assert.equal(final.host, b?.url);
  assert.deepEqual(final.hostAttempts?.map((x) => [x.host, x.outcome]), [[b?.url, 'ok']]);
  const whole = await fleet.complete({ systemPrompt: '', history: [], currentMessage: 'hi' });
  assert.equal(whole.metadata.host, b?.url);
  assert.equal(a?.chats, 0);
  assert.ok(events.some((e) => e.type === 'route' && e.host === b?.url && e.reason === 'least_loaded'));
  assert.equal(inFlight(fleet), 0);
});

test('prefers the host where the model is loaded; after a request the model counts as loaded there', async () => {
  const [cold, warm] = await hosts({ models: ['llama3'] }, { models: ['llama3'], loaded: ['llama3'] });
  const { fleet, events } = fleetOf([cold as FakeFleetHost, warm as FakeFleetHost], {}, { random: () => 0 });
  for (let i = 0; i < 3; i++) {
    // A new conversation each time, so no sticky host decides.
    const res = await fleet.chat({ messages: [{ role: 'user', content: `hi ${i}` }] });
    assert.equal(res.host, warm?.url);
  }
  assert.equal(cold?.chats, 0);
  assert.ok(events.filter((e) => e.type === 'route').every((e) => e.type === 'route' && e.reason === 'loaded'));
  const snap = fleet.snapshot();
  assert.deepEqual(snap.hosts.find((h) => h.url === warm?.url)?.loaded, [{ model: M, contextLength: 4096, expiresAt: '2099-01-01T00:00:00Z' }]);
  assert.equal(snap.hosts.find((h) => h.url === warm?.url)?.version, '0.17.4');
});

test('a sticky key keeps a conversation on one host; without it the load spreads', async () => {
  const [a, b] = await hosts({ models: ['llama3'], loaded: ['llama3'] }, { models: ['llama3'], loaded: ['llama3'] });
  let flip = 0;
  const { fleet } = fleetOf([a as FakeFleetHost, b as FakeFleetHost], {}, { random: () => (flip++ % 2 === 0 ? 0.1 : 0.9) });
  const pinned = new Set<string | undefined>();
  for (let i = 0; i < 6; i++) pinned.add((await fleet.chat(ask, { stickyKey: 'conv-1' })).host);
  assert.equal(pinned.size, 1, 'one host for the whole conversation');
  // Without a key (and each request a new conversation) the weighted tie-break alternates between the two equal hosts.
  const spread = new Set<string | undefined>();
  for (let i = 0; i < 6; i++) spread.add((await fleet.chat({ messages: [{ role: 'user', content: `new ${i}` }] })).host);
  assert.equal(spread.size, 2);
});

test('without a sticky key, the turns of one conversation stay on the host of its first turn; other conversations spread', async () => {
  const [a, b] = await hosts({ models: ['llama3'], loaded: ['llama3'] }, { models: ['llama3'], loaded: ['llama3'] });
  // A spread-out sequence: each request draws one number, sticky or not.
  let n = 0;
  const { fleet } = fleetOf([a as FakeFleetHost, b as FakeFleetHost], {}, { random: () => (n++ * 0.618) % 1 });
  const history: ChatRequest['messages'] = [{ role: 'system', content: 'Be brief.' }];
  const hostsOfTurns: (string | undefined)[] = [];
  const others = new Set<string | undefined>();
  for (let turn = 1; turn <= 4; turn++) {
    history.push({ role: 'user', content: `question ${turn}` });
    // The whole conversation each turn, as the ollama CLI and the SDKs send it; streamed and whole alike.
    const host = turn % 2 === 0 ? (await collect(fleet.chatStream({ messages: [...history] }))).at(-1)?.host : (await fleet.chat({ messages: [...history] })).host;
    hostsOfTurns.push(host);
    history.push({ role: 'assistant', content: `answer ${turn}` });
    // A different conversation in between may go to the other host.
    others.add((await fleet.chat({ messages: [{ role: 'user', content: `elsewhere ${turn}` }] })).host);
  }
  assert.equal(new Set(hostsOfTurns).size, 1, `one host for every turn: ${hostsOfTurns.join(', ')}`);
  assert.equal(others.size, 2, 'other conversations still spread over the equal hosts');
  // An explicit sticky key still wins over the derived one.
  const explicit = new Set<string | undefined>();
  for (let i = 0; i < 4; i++) explicit.add((await fleet.chat({ messages: [...history] }, { stickyKey: `caller-${i}` })).host);
  assert.equal(explicit.size, 2, 'explicit keys route as their own conversations');
});

test('a model missing everywhere triggers one discovery per host for a burst of requests, then none within the minimum interval', async () => {
  const [a, b] = await hosts({ models: [] }, { models: [] });
  const { fleet } = fleetOf([a as FakeFleetHost, b as FakeFleetHost], { minRefreshIntervalMs: 400 }, { slots: [8, 8] });
  await fleet.refresh();
  const tags = (): number[] => [a?.count('/api/tags') ?? 0, b?.count('/api/tags') ?? 0];
  const before = tags();
  // The model is pulled on b behind the fleet's back, after the minimum interval has passed.
  (b as FakeFleetHost).models.push(M);
  await new Promise((r) => setTimeout(r, 450));
  const answers = await Promise.all(Array.from({ length: 10 }, () => fleet.chat(ask)));
  assert.ok(answers.every((r) => r.host === b?.url));
  assert.deepEqual(tags(), before.map((n) => n + 1), 'one /api/tags per host for the whole burst');
  // A second miss within the minimum interval does not ask again.
  await rejects(fleet.chat({ ...ask, model: 'nowhere' }), 'model_not_found');
  assert.deepEqual(tags(), before.map((n) => n + 1));
});

test('a host failing before the first byte is replaced by the next best; each attempt is recorded', async () => {
  const [bad, good] = await hosts({ models: ['llama3'], loaded: ['llama3'] }, { models: ['llama3'] });
  (bad as FakeFleetHost).chatFault = 'error500';
  const { fleet, events } = fleetOf([bad as FakeFleetHost, good as FakeFleetHost]);
  const chunks = await collect(fleet.chatStream(ask));
  const final = chunks.at(-1) as ChatChunk;
  assert.equal(final.host, good?.url);
  assert.deepEqual(final.hostAttempts?.map((x) => [x.host, x.outcome]), [
    [bad?.url, 'server_error'],
    [good?.url, 'ok'],
  ]);
  assert.match(final.hostAttempts?.[0]?.error ?? '', /llama runner process has terminated/);
  assert.ok(events.some((e) => e.type === 'failover' && e.from === bad?.url && e.code === 'server_error'));
  assert.equal(inFlight(fleet), 0);
});

test('the breaker opens after consecutive failures, skips the host, and a probe brings it back', async () => {
  const [flaky, steady] = await hosts({ models: ['llama3'], loaded: ['llama3'] }, { models: ['llama3'] });
  (flaky as FakeFleetHost).chatFault = 'reset';
  const { fleet, events } = fleetOf([flaky as FakeFleetHost, steady as FakeFleetHost], { breakerThreshold: 2, breakerCooldownMs: 150, probeIntervalMs: 40 }, { random: () => 0 });
  // Two conversations: one that failed over stays on its new host, so it would not try the flaky one again.
  for (let i = 0; i < 2; i++) assert.equal((await fleet.chat({ messages: [{ role: 'user', content: `try ${i}` }] })).host, steady?.url);
  assert.equal(flaky?.chats, 2);
  assert.equal(fleet.snapshot().hosts[0]?.circuit, 'open');
  assert.ok(events.some((e) => e.type === 'breaker_open' && e.host === flaky?.url));
  const res = await fleet.chat(ask);
  assert.equal(res.host, steady?.url);
  assert.equal(flaky?.chats, 2, 'an open circuit gets no request');
  assert.deepEqual(res.hostAttempts?.map((x) => x.host), [steady?.url]);
  // The host recovers: after the cool-down a probe is its half-open trial, and it rejoins.
  (flaky as FakeFleetHost).chatFault = 'none';
  await until(() => fleet.snapshot().hosts[0]?.circuit === 'closed', 'the circuit to close');
  assert.deepEqual(
    events.filter((e) => e.type.startsWith('breaker_')).map((e) => e.type),
    ['breaker_open', 'breaker_half_open', 'breaker_close'],
  );
  // Both hosts have the model loaded now; the tie-break (random 0) takes the first again.
  // A new conversation: the earlier ones stay on their host.
  assert.equal((await fleet.chat({ messages: [{ role: 'user', content: 'new' }] })).host, flaky?.url, 'the host is back in rotation');
});

test('a 4xx (model not found on that host) fails over without opening the circuit', async () => {
  const [stale, good] = await hosts({ models: ['llama3'], loaded: ['llama3'] }, { models: ['llama3'] });
  const { fleet } = fleetOf([stale as FakeFleetHost, good as FakeFleetHost], { breakerThreshold: 1 });
  await fleet.refresh();
  (stale as FakeFleetHost).models.length = 0; // deleted behind the fleet's back
  const res = await fleet.chat(ask);
  assert.equal(res.host, good?.url);
  assert.deepEqual(res.hostAttempts?.map((x) => x.outcome), ['model_not_found', 'ok']);
  const snap = fleet.snapshot().hosts[0];
  assert.equal(snap?.circuit, 'closed');
  assert.deepEqual(snap?.models, [], 'the host no longer counts as having the model');
});

test('a failure after the first chunk is connection_lost with the partial text, never a restart elsewhere', async () => {
  const [cut, other] = await hosts({ models: ['llama3'], loaded: ['llama3'], parts: ['one ', 'two ', 'three'] }, { models: ['llama3'] });
  (cut as FakeFleetHost).cutAfterParts = 2;
  const { fleet } = fleetOf([cut as FakeFleetHost, other as FakeFleetHost]);
  const seen: string[] = [];
  const error = await rejects(
    (async () => {
      for await (const c of fleet.chatStream(ask)) seen.push(c.content);
    })(),
    'connection_lost',
  );
  assert.deepEqual(seen, ['one ', 'two ']);
  assert.equal(error.partialText, 'one two ');
  assert.equal(error.baseUrl, cut?.url);
  assert.match(error.message, /failed after part of the answer was sent .* 8 characters received are kept/);
  assert.equal(other?.chats, 0, 'no silent restart on another host');
  assert.equal(inFlight(fleet), 0);
});

test('the gateway carries the host into its metadata and stores it; the config builds the fleet', async () => {
  const [a] = await hosts({ models: ['llama-config'] });
  const config = testConfig();
  config.provider.ollama.hosts = [{ url: (a as FakeFleetHost).url, weight: 1, labels: [] }];
  config.provider.ollama.fleet = { refreshIntervalMs: 0, probeIntervalMs: 0, minRefreshIntervalMs: 0, probeTimeoutMs: 2000, queueSize: 4, queueTimeoutMs: 1000, maxAttempts: 2, breakerThreshold: 3, breakerCooldownMs: 1000, stickyTtlMs: 60_000, defaultMaxConcurrent: 1 };
  const memory = SqliteMemory.open(':memory:');
  const gateway = new Gateway({ config, memory });
  open.push(gateway);
  assert.ok(gateway.provider() instanceof OllamaFleet);
  const answer = await gateway.handle({ channel: 'cli', conversationId: 'c1', sender: 'me', text: 'hi' });
  assert.equal(answer.metadata.host, a?.url);
  assert.deepEqual(answer.metadata.hostAttempts?.map((x) => x.outcome), ['ok']);
  assert.equal(answer.metadata.providerUsed, 'ollama');
  // Stored with the answer, so the host and the attempts are there to audit later.
  const stored = memory.messages('c1').find((m) => m.role === 'assistant');
  assert.equal(stored?.metadata?.host, a?.url);
  assert.equal(stored?.metadata?.hostAttempts?.[0]?.host, a?.url);
});

test('the gateway passes the conversation id as the sticky key', async () => {
  const [a, b] = await hosts({ models: ['llama3'], loaded: ['llama3'] }, { models: ['llama3'], loaded: ['llama3'] });
  // A spread-out sequence: the gateway also routes once per request to size the context window.
  let n = 0;
  const { fleet } = fleetOf([a as FakeFleetHost, b as FakeFleetHost], {}, { random: () => (n++ * 0.618) % 1 });
  const gateway = new Gateway({ config: testConfig(), providers: { ollama: fleet } });
  const seen = new Set<string | undefined>();
  for (let i = 0; i < 4; i++) seen.add((await gateway.handle({ channel: 'cli', conversationId: 'conv', sender: 'me', text: `q${i}` })).metadata.host);
  assert.equal(seen.size, 1, 'one host for the conversation');
  const loose = new Set<string | undefined>();
  for (let i = 0; i < 4; i++) loose.add((await gateway.handle({ channel: 'cli', conversationId: `other-${i}`, sender: 'me', text: 'q' })).metadata.host);
  assert.equal(loose.size, 2, 'new conversations spread over equal hosts');
});

test('all slots busy: requests wait in FIFO order and run as slots free up, never above max_concurrent', async () => {
  const [h] = await hosts({ models: ['llama3'], loaded: ['llama3'] });
  const host = h as FakeFleetHost;
  const { fleet, events } = fleetOf([host], { queueSize: 4, queueTimeoutMs: 5000 }, { slots: [1] });
  host.hold();
  const order: number[] = [];
  const runs = [1, 2, 3].map((i) => collect(fleet.chatStream(ask)).then(() => order.push(i)));
  await until(() => fleet.snapshot().queues[0]?.waiting === 2, 'two waiters');
  assert.equal(fleet.snapshot().hosts[0]?.queued, 2);
  assert.equal(events.filter((e) => e.type === 'queued').length, 2);
  host.release();
  // Each released request frees the slot for the next; the gate is open from now on.
  await Promise.all(runs);
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(host.maxChatsRunning, 1);
  assert.equal(inFlight(fleet), 0);
  assert.deepEqual(fleet.snapshot().queues, []);
});

test('a full queue refuses at once with busy and retryAfterMs; a queue timeout is busy too', async () => {
  const [h] = await hosts({ models: ['llama3'], loaded: ['llama3'] });
  const host = h as FakeFleetHost;
  const { fleet, events } = fleetOf([host], { queueSize: 1, queueTimeoutMs: 150 }, { slots: [1] });
  host.hold();
  const running = fleet.chat(ask);
  await until(() => host.chatsRunning === 1, 'the first request to run');
  const waiting = fleet.chat(ask);
  await until(() => fleet.snapshot().queues.length === 1, 'one waiter');
  const started = Date.now();
  const full = await rejects(fleet.chat(ask), 'busy');
  assert.ok(Date.now() - started < 100, 'refused at once');
  assert.ok((full.retryAfterMs ?? 0) >= 100);
  assert.match(full.message, /1 request\(s\) already wait, the most fleet\.queueSize allows; retry in about \d+ s/);
  assert.deepEqual(full.setting, { option: 'fleet.queueSize', configKey: 'provider.ollama.fleet.queue_size' });
  const timedOut = await rejects(waiting, 'busy');
  assert.equal(timedOut.setting?.configKey, 'provider.ollama.fleet.queue_timeout');
  assert.match(timedOut.message, /stayed busy .* \(fleet\.queueTimeoutMs\)/);
  assert.ok(timedOut.retryAfterMs !== undefined);
  assert.ok(events.some((e) => e.type === 'queue_full') && events.some((e) => e.type === 'queue_timeout'));
  host.release();
  await running;
  assert.equal(inFlight(fleet), 0);
  assert.deepEqual(fleet.snapshot().queues, []);
});

test('slots are released on error, on an early break, on abort mid-stream and on abort while queued', async () => {
  const [h] = await hosts({ models: ['llama3'], loaded: ['llama3'], parts: ['a', 'b', 'c', 'd'], partDelayMs: 30 });
  const host = h as FakeFleetHost;
  const { fleet } = fleetOf([host], { queueSize: 4, queueTimeoutMs: 5000, maxAttempts: 1 }, { slots: [1] });
  // Error.
  host.chatFault = 'error500';
  await rejects(fleet.chat(ask), 'server_error');
  assert.equal(inFlight(fleet), 0);
  host.chatFault = 'none';
  // Early break.
  for await (const c of fleet.chatStream(ask)) {
    assert.equal(c.content, 'a');
    break;
  }
  assert.equal(inFlight(fleet), 0);
  // Abort mid-stream.
  const ctl = new AbortController();
  const aborted = (async () => {
    for await (const c of fleet.chatStream(ask, { signal: ctl.signal })) if (c.content === 'a') ctl.abort();
  })();
  await rejects(aborted, 'aborted');
  assert.equal(inFlight(fleet), 0);
  // Abort while queued.
  host.hold();
  const first = fleet.chat(ask);
  await until(() => host.chatsRunning === 1, 'the first request to run');
  const ctl2 = new AbortController();
  const queued = fleet.chat(ask, { signal: ctl2.signal });
  await until(() => fleet.snapshot().queues.length === 1, 'one waiter');
  ctl2.abort();
  const e = await rejects(queued, 'aborted');
  assert.match(e.message, /cancelled while it waited/);
  assert.deepEqual(fleet.snapshot().queues, []);
  host.release();
  await first;
  assert.equal(inFlight(fleet), 0);
  // The host was never blamed for the caller's cancels.
  assert.equal(fleet.snapshot().hosts[0]?.circuit, 'closed');
});

test('every host down: unavailable naming the hosts, and isAvailable is false', async () => {
  const [a, b] = await hosts({ models: ['llama3'] }, { models: ['llama3'] });
  const { fleet } = fleetOf([a as FakeFleetHost, b as FakeFleetHost], { breakerThreshold: 1, maxAttempts: 3 });
  await fleet.refresh();
  await (a as FakeFleetHost).close();
  await (b as FakeFleetHost).close();
  const e = await rejects(fleet.chat(ask), 'unavailable');
  assert.match(e.message, new RegExp(`${b?.url}|${a?.url}`));
  assert.equal(await fleet.isAvailable(), false);
  const again = await rejects(fleet.chat(ask), 'unavailable');
  assert.match(again.message, /Every Ollama host that has 'llama3' is failing .* rejoins by itself/);
  assert.equal(inFlight(fleet), 0);
});

test('listModels is the union with the hosts of each model and where it is loaded; pull runs on every host', async () => {
  const [a, b] = await hosts({ models: ['llama3', 'qwen3'], loaded: ['llama3'] }, { models: ['llama3'] });
  const { fleet } = fleetOf([a as FakeFleetHost, b as FakeFleetHost]);
  await fleet.refresh();
  const models = await fleet.listModels();
  const byName = Object.fromEntries(models.map((m) => [m.name, m]));
  assert.deepEqual(byName[M]?.hosts, [a?.url, b?.url]);
  assert.deepEqual(byName[M]?.loadedOn, [a?.url]);
  assert.deepEqual(byName['qwen3:latest']?.hosts, [a?.url]);
  assert.equal(byName[M]?.contextWindow, 8192);
  (b as FakeFleetHost).pullError = 'pull model manifest: file does not exist';
  const progress: string[] = [];
  const results = await fleet.pull('gemma3', { onProgress: (host, p) => progress.push(`${host} ${p.status}`) });
  assert.deepEqual(results.map((r) => [r.host, r.ok]), [
    [a?.url, true],
    [b?.url, false],
  ]);
  assert.match(results[1]?.error?.message ?? '', /file does not exist|not found/);
  assert.ok(progress.includes(`${a?.url} success`));
  assert.ok(fleet.snapshot().hosts[0]?.models.includes('gemma3:latest'));
});

test('acquire/release for callers that talk to the host themselves; hostForModel does not take a slot', async () => {
  const [a] = await hosts({ models: ['llama3'], loaded: ['llama3'] });
  const { fleet } = fleetOf([a as FakeFleetHost], { queueTimeoutMs: 100 }, { slots: [1] });
  await fleet.refresh();
  assert.equal(fleet.hostForModel('llama3'), a?.url);
  const lease = await fleet.acquire('llama3');
  assert.equal(lease.host, a?.url);
  assert.equal(lease.provider.baseUrl, a?.url);
  assert.equal(fleet.hostForModel('llama3'), undefined, 'the only slot is taken');
  await rejects(fleet.acquire('llama3'), 'busy');
  lease.release();
  lease.release();
  assert.equal(inFlight(fleet), 0, 'release is idempotent');
  const next = await fleet.acquire('llama3');
  next.release({ error: new ProviderError({ provider: 'ollama', code: 'unavailable', message: 'down' }) });
  assert.equal(fleet.snapshot().hosts[0]?.lastError, 'down');
});
