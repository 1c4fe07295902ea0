/**
 * What the fleet benchmark's figures stand on: a synthetic host with `--slots=1` runs one chat
 * at a time and queues the rest (as an Ollama with OLLAMA_NUM_PARALLEL=1), `--models` makes it
 * list the bench models as installed and loaded (so a fleet routes to it), the config the bench
 * writes is the config Omega reads, the routing-cost harness really routes, and the evenness
 * statistics are right.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { coefficientOfVariation, omegaOllamaToml, quantile } from '../../bench/fleet.js';
import { defaultRouteModuleUrl, measureRouteCost, syntheticHosts } from '../../bench/fleet-route.js';
import { streamChat } from '../../bench/gw-client.js';
import { spawnBenchServer } from '../../bench/spawn.js';
import type { BenchServer } from '../../bench/spawn.js';
import { parseConfig } from '../../src/config/load.js';

let server: BenchServer;
const agent = new Agent();

before(async () => {
  server = await spawnBenchServer({ slots: 1, models: ['slow-i50-n10', 'bench-n10'] });
});

after(async () => {
  await agent.close();
  await server.close();
});

test('--slots=1 runs one chat at a time: the second waits, unanswered, until the first has ended', async () => {
  const target = { url: `${server.url}/api/chat`, protocol: 'ollama' as const, headers: {} };
  const base = (await server.stats()).streamed;
  // The first chat takes at least 450 ms (10 chunks, 50 ms apart); the server counts a chat when it starts answering it.
  let started!: () => void;
  const firstChunk = new Promise<void>((resolve) => (started = resolve));
  const first = streamChat(agent, target, 'slow-i50-n10', () => started());
  await firstChunk;
  const second = streamChat(agent, target, 'slow-i50-n10');
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal((await server.stats()).streamed - base, 1, 'the second chat is not being answered while the first runs');
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.chunks, 10);
  assert.equal(b.chunks, 10);
  assert.equal((await server.stats()).streamed - base, 2);
});

test('--models lists the names in /api/tags and as loaded in /api/ps', async () => {
  const tags = (await (await fetch(`${server.url}/api/tags`)).json()) as { models: { name: string }[] };
  assert.deepEqual(tags.models.map((m) => m.name), ['slow-i50-n10', 'bench-n10']);
  const ps = (await (await fetch(`${server.url}/api/ps`)).json()) as { models: { name: string; context_length: number }[] };
  assert.deepEqual(ps.models.map((m) => [m.name, m.context_length]), [
    ['slow-i50-n10', 4096],
    ['bench-n10', 4096],
  ]);
});

test('the config the bench writes for a fleet is read as one by Omega', () => {
  const toml = omegaOllamaToml({ kind: 'fleet', urls: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], maxConcurrent: 1 }).join('\n');
  const { config } = parseConfig(toml, undefined, {});
  assert.deepEqual(
    config.provider.ollama.hosts?.map((h) => [h.url, h.maxConcurrent]),
    [
      ['http://127.0.0.1:1', 1],
      ['http://127.0.0.1:2', 1],
    ],
  );
  const { config: one } = parseConfig(omegaOllamaToml({ kind: 'base_url', urls: ['http://127.0.0.1:3'] }).join('\n'), undefined, {});
  assert.equal(one.provider.ollama.hosts, undefined);
  assert.equal(one.provider.ollama.baseUrl, 'http://127.0.0.1:3');
});

test('the routing-cost harness times real decisions over varied state', async () => {
  const hosts = syntheticHosts(50);
  assert.equal(hosts.length, 50);
  assert.ok(hosts.some((h) => h.circuit === 'open'), 'some circuits are open');
  assert.ok(hosts.some((h) => !h.models.has('qwen3:8b')), 'not every host has the model');
  const cost = await measureRouteCost({ hostCounts: [3, 50], iterations: 2000, runs: 2 }, defaultRouteModuleUrl('src'));
  assert.equal(cost.unavailable, undefined);
  assert.deepEqual(cost.points.map((p) => p.hosts), [3, 50]);
  for (const p of cost.points) {
    assert.ok(p.micros.median > 0 && Number.isFinite(p.micros.median));
    assert.equal((p.outcomes.routed ?? 0) + Object.entries(p.outcomes).filter(([k]) => k !== 'routed').reduce((n, [, v]) => n + v, 0), 2000);
    assert.ok((p.outcomes.routed ?? 0) > 0);
  }
  const missing = await measureRouteCost({ hostCounts: [3], iterations: 10, runs: 1 }, 'file:///nonexistent/router.js');
  assert.match(missing.unavailable ?? '', /could not load/);
});

test('evenness statistics: coefficient of variation and nearest-rank quantiles', () => {
  assert.equal(coefficientOfVariation([10, 10, 10]), 0);
  assert.equal(coefficientOfVariation([30, 0, 0]), Math.sqrt(2));
  assert.ok(Math.abs(coefficientOfVariation([20, 15, 13]) - 0.1837) < 0.001);
  assert.equal(quantile([5, 1, 3, 2, 4], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99), 10);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});
