/**
 * The pure router: the routing order (sticky, loaded, least loaded), what makes a host
 * ineligible (circuit, slots, exclusions, labels), and fairness over 10,000 decisions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelKey, route } from '../../../../src/providers/ollama/fleet/router.js';
import type { HostView, RouteDecision, RouteState } from '../../../../src/providers/ollama/fleet/types.js';

const M = 'llama3:latest';

function host(url: string, over: Partial<Omit<HostView, 'models' | 'loaded' | 'inFlight'>> & { models?: string[]; loaded?: string[]; inFlight?: number } = {}): HostView {
  return {
    url,
    weight: over.weight ?? 1,
    labels: over.labels ?? [],
    circuit: over.circuit ?? 'closed',
    trialBusy: over.trialBusy ?? false,
    models: new Set(over.models ?? [M]),
    loaded: new Set(over.loaded ?? []),
    inFlight: new Map(over.inFlight === undefined || over.inFlight === 0 ? [] : [[M, over.inFlight]]),
    slots: over.slots ?? 1,
  };
}

function state(over: Partial<RouteState> = {}): RouteState {
  return { sticky: new Map(), now: 1000, random: 0, ...over };
}

function chosen(d: RouteDecision): string {
  assert.ok('host' in d, `expected a host, got ${JSON.stringify(d)}`);
  return d.host;
}

test('modelKey adds :latest to untagged names only, and ignores a registry port', () => {
  assert.equal(modelKey('llama3'), 'llama3:latest');
  assert.equal(modelKey('llama3:8b'), 'llama3:8b');
  assert.equal(modelKey('registry:5000/ns/model'), 'registry:5000/ns/model:latest');
  assert.equal(modelKey(' gemma3:270m '), 'gemma3:270m');
});

test('only hosts that have the model are candidates; none has it → no_host_has_model', () => {
  const hosts = [host('a', { models: ['other:latest'] }), host('b')];
  assert.equal(chosen(route(M, hosts, {}, state())), 'b');
  const d = route('missing:latest', hosts, {}, state());
  assert.ok('none' in d);
  assert.equal(d.none, 'no_host_has_model');
  assert.match(d.why, /missing:latest/);
});

test('a loaded host with a free slot wins over an idle host that would have to load the model', () => {
  const hosts = [host('idle', { weight: 10, slots: 4 }), host('warm', { loaded: [M], slots: 2, inFlight: 1 })];
  const d = route(M, hosts, {}, state());
  assert.equal(chosen(d), 'warm');
  assert.ok('reason' in d && d.reason === 'loaded');
  assert.match(d.why, /loaded there with a free slot \(1\/2\)/);
  // Once its slots are full, the idle host takes the request.
  const full = [host('idle', { weight: 10, slots: 4 }), host('warm', { loaded: [M], slots: 2, inFlight: 2 })];
  const d2 = route(M, full, {}, state());
  assert.equal(chosen(d2), 'idle');
  assert.ok('reason' in d2 && d2.reason === 'least_loaded');
});

test('least in-flight per slot and weight decides between equal hosts', () => {
  const hosts = [host('a', { slots: 2, inFlight: 1 }), host('b', { slots: 2, inFlight: 0 })];
  assert.equal(chosen(route(M, hosts, {}, state())), 'b');
  // Weight 3 with 2 in flight (3/3 = 1 after taking one) beats weight 1 with 0 in flight (1/1 = 1)? Equal: tie-break by weight × slots.
  const weighted = [host('heavy', { weight: 3, slots: 4, inFlight: 2 }), host('light', { weight: 1, slots: 4, inFlight: 1 })];
  assert.equal(chosen(route(M, weighted, {}, state())), 'heavy');
});

test('every eligible host full → all_full; every host with the model open → all_unhealthy', () => {
  const full = route(M, [host('a', { inFlight: 1 }), host('b', { inFlight: 1 })], {}, state());
  assert.ok('none' in full && full.none === 'all_full');
  assert.match(full.why, /a 1\/1, b 1\/1/);
  const open = route(M, [host('a', { circuit: 'open' }), host('b', { circuit: 'open' }), host('c', { models: [] })], {}, state());
  assert.ok('none' in open && open.none === 'all_unhealthy');
});

test('an open circuit is skipped even when the host is loaded and idle', () => {
  const hosts = [host('sick', { circuit: 'open', loaded: [M], weight: 100 }), host('well')];
  assert.equal(chosen(route(M, hosts, {}, state())), 'well');
});

test('a half-open host gets one trial only when no closed host has the model', () => {
  const trial = route(M, [host('h', { circuit: 'half_open' })], {}, state());
  assert.ok('reason' in trial && trial.reason === 'half_open_trial');
  const busy = route(M, [host('h', { circuit: 'half_open', trialBusy: true })], {}, state());
  assert.ok('none' in busy && busy.none === 'all_unhealthy');
  assert.equal(chosen(route(M, [host('h', { circuit: 'half_open', loaded: [M] }), host('c')], {}, state())), 'c');
});

test('sticky: the pinned host wins while healthy and free, not when full, open or expired', () => {
  const sticky = new Map([['conv', { host: 'b', expiresAt: 5000 }]]);
  const hosts = [host('a', { loaded: [M], slots: 4 }), host('b', { slots: 1 })];
  const d = route(M, hosts, { stickyKey: 'conv' }, state({ sticky }));
  assert.equal(chosen(d), 'b');
  assert.ok('reason' in d && d.reason === 'sticky');
  assert.equal(chosen(route(M, [hosts[0] as HostView, host('b', { inFlight: 1 })], { stickyKey: 'conv' }, state({ sticky }))), 'a');
  assert.equal(chosen(route(M, [hosts[0] as HostView, host('b', { circuit: 'open' })], { stickyKey: 'conv' }, state({ sticky }))), 'a');
  assert.equal(chosen(route(M, hosts, { stickyKey: 'conv' }, state({ sticky, now: 6000 }))), 'a');
  assert.equal(chosen(route(M, hosts, { stickyKey: 'other' }, state({ sticky }))), 'a');
});

test('excluded hosts (already tried) and hosts without the asked labels are skipped', () => {
  const hosts = [host('a', { labels: ['gpu'] }), host('b')];
  assert.equal(chosen(route(M, hosts, { exclude: new Set(['a']) }, state())), 'b');
  const tried = route(M, hosts, { exclude: new Set(['a', 'b']) }, state());
  assert.ok('none' in tried && tried.none === 'all_unhealthy');
  assert.equal(chosen(route(M, hosts, { labels: ['gpu'] }, state({ random: 0.99 }))), 'a');
  const none = route(M, hosts, { labels: ['tpu'] }, state());
  assert.ok('none' in none && none.none === 'no_host_has_model');
});

test('route is pure: the same snapshot gives the same decision and is not modified', () => {
  const hosts = [host('a', { slots: 2, inFlight: 1 }), host('b', { loaded: [M] })];
  const before = JSON.stringify(hosts.map((h) => [...h.inFlight]));
  assert.deepEqual(route(M, hosts, {}, state({ random: 0.3 })), route(M, hosts, {}, state({ random: 0.3 })));
  assert.equal(JSON.stringify(hosts.map((h) => [...h.inFlight])), before);
});

/** A deterministic random sequence (mulberry32), so the fairness runs are repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Spec {
  url: string;
  weight: number;
  slots: number;
}

function shares(counts: Map<string, number>, total: number): Record<string, string> {
  return Object.fromEntries([...counts].map(([k, v]) => [k, `${((100 * v) / total).toFixed(1)}%`]));
}

/**
 * 10,000 decisions with `concurrency` requests kept in flight: each step routes one request,
 * then one running request (chosen at random) finishes.
 */
function simulate(specs: Spec[], concurrency: number, seed: number): Map<string, number> {
  const rnd = seeded(seed);
  const inFlight = new Map(specs.map((s) => [s.url, 0]));
  const counts = new Map(specs.map((s) => [s.url, 0]));
  const running: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const views = specs.map((s) => host(s.url, { weight: s.weight, slots: s.slots, loaded: [M], inFlight: inFlight.get(s.url) ?? 0 }));
    const d = route(M, views, {}, state({ random: rnd() }));
    const url = chosen(d);
    counts.set(url, (counts.get(url) ?? 0) + 1);
    inFlight.set(url, (inFlight.get(url) ?? 0) + 1);
    running.push(url);
    if (running.length >= concurrency) {
      const [done] = running.splice(Math.floor(rnd() * running.length), 1);
      inFlight.set(done as string, (inFlight.get(done as string) ?? 1) - 1);
    }
  }
  return counts;
}

test('fairness over 10,000 decisions: idle traffic by weight × slots, saturated traffic by slots', () => {
  const specs: Spec[] = [
    { url: 'w1s1', weight: 1, slots: 1 },
    { url: 'w2s1', weight: 2, slots: 1 },
    { url: 'w1s2', weight: 1, slots: 2 },
    { url: 'w3s2', weight: 3, slots: 2 },
  ];
  const capacity = specs.reduce((n, s) => n + s.weight * s.slots, 0);
  const slots = specs.reduce((n, s) => n + s.slots, 0);
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const byCapacity = Object.fromEntries(specs.map((s) => [s.url, pct((s.weight * s.slots) / capacity)]));
  const bySlots = Object.fromEntries(specs.map((s) => [s.url, pct(s.slots / slots)]));
  const runs = new Map([1, 3, 6].map((c) => [c, simulate(specs, c, 42 + c)]));
  for (const [c, counts] of runs) console.log(`# fairness c=${c}: ${JSON.stringify(shares(counts, 10_000))}`);
  console.log(`# fairness expected: idle (c=1) by weight x slots ${JSON.stringify(byCapacity)}; saturated (c=6 = all slots) by slots ${JSON.stringify(bySlots)}`);
  for (const s of specs) {
    const idle = (runs.get(1)?.get(s.url) ?? 0) / 10_000;
    assert.ok(Math.abs(idle - (s.weight * s.slots) / capacity) <= 0.02, `${s.url} idle: ${pct(idle)} vs ${byCapacity[s.url]}`);
    const saturated = (runs.get(6)?.get(s.url) ?? 0) / 10_000;
    assert.ok(Math.abs(saturated - s.slots / slots) <= 0.03, `${s.url} saturated: ${pct(saturated)} vs ${bySlots[s.url]}`);
    // In between, least-connections spreads concurrent requests over idle hosts first: every host takes part.
    assert.ok((runs.get(3)?.get(s.url) ?? 0) / 10_000 >= 0.05, `${s.url} gets a share at c=3`);
  }
});

test('fairness: equal hosts split 10,000 idle decisions evenly, and a heavier host gets its weight', () => {
  const counts = simulate(
    [
      { url: 'a', weight: 1, slots: 1 },
      { url: 'b', weight: 1, slots: 1 },
      { url: 'c', weight: 2, slots: 1 },
    ],
    1,
    7,
  );
  console.log(`# fairness equal+double: expected a 25% b 25% c 50%, got ${JSON.stringify(shares(counts, 10_000))}`);
  assert.ok(Math.abs((counts.get('a') ?? 0) - 2500) < 250);
  assert.ok(Math.abs((counts.get('b') ?? 0) - 2500) < 250);
  assert.ok(Math.abs((counts.get('c') ?? 0) - 5000) < 250);
});
