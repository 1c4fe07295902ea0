/**
 * `omega serve` in front of two real `ollama serve` hosts (an Ollama fleet), driven by the real
 * `ollama` CLI with OLLAMA_HOST pointing at Omega: `ollama list` shows the union of the hosts'
 * models, `ollama run` of a model only one host has is answered by that host (its `/api/ps`
 * then shows it loaded, the other's does not), `ollama ps` lists what both hosts have loaded,
 * and `omega status` shows both hosts. The routing rules themselves are tested in
 * test/providers/ollama/fleet and the fleet's own integration tests; this file is about the
 * surfaces. `omega pull --all-hosts` needs a registry, which the test machine has not: it is
 * tested against fake hosts that stream pull progress (test/cli/fleet.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FLEET_OPTIONS } from '../../src/providers/ollama/fleet/index.js';
import { ollamaCli, ollamaSkipReason, startOllama, useOllama } from '../support/ollama-harness.js';
import type { OllamaServer } from '../support/ollama-harness.js';
import { tempDir, testConfig } from '../gateway/helpers.js';
import { runCli } from '../cli/helpers.js';
import { startServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';

const SKIP = ollamaSkipReason();
const SLOW = { timeout: 180_000, skip: SKIP };

async function psNames(url: string): Promise<string[]> {
  const res = await fetch(`${url}/api/ps`);
  return ((await res.json()) as { models: { name: string }[] }).models.map((m) => m.name);
}

async function tags(url: string): Promise<string[]> {
  const res = await fetch(`${url}/api/tags`);
  return ((await res.json()) as { models: { name: string }[] }).models.map((m) => m.name);
}

/** Requests Omega's fleet routed to each host so far, from its `/metrics`. */
async function routed(omegaUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${omegaUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^omega_fleet_routed_requests_total\{host="([^"]+)",reason="[a-z_]+"\} (\d+)$/gm)) {
    out.set(m[1] as string, (out.get(m[1] as string) ?? 0) + Number(m[2]));
  }
  return out;
}

describe('omega serve in front of two real ollama serve hosts', () => {
  const a = useOllama();
  const dir = tempDir('omega-fleet-it-');
  let b: OllamaServer | undefined;
  let omega: TestServer | undefined;

  before(
    async () => {
      if (SKIP) return;
      // Host b: the same Ollama, but without the tools model, so only host a can answer for it.
      b = await startOllama({ bin: a.bin, handleSignals: false });
      const del = await fetch(`${b.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: a.models.tools }) });
      assert.equal(del.status, 200, await del.text());
      const config = testConfig({ ollamaUrl: a.url, dbPath: join(dir.path, 'memory.db') });
      config.provider.ollama.model = a.models.plain;
      config.provider.ollama.options = { num_predict: 8, temperature: 0, seed: 1 };
      config.provider.ollama.timeouts = { connectMs: 5000, loadMs: 120_000, idleMs: 60_000, requestMs: 0 };
      config.provider.ollama.hosts = [a.url, b.url].map((url) => ({ url, weight: 1, labels: [], maxConcurrent: 1 }));
      config.provider.ollama.fleet = { ...DEFAULT_FLEET_OPTIONS, probeIntervalMs: 0, refreshIntervalMs: 0 };
      omega = await startServer({ config, autoClose: false });
    },
    { timeout: 600_000 },
  );
  after(async () => {
    await omega?.close();
    await b?.stop();
  });

  test('`ollama list` shows every host\'s models once', SLOW, async () => {
    const r = await ollamaCli(a.bin, (omega as TestServer).host, ['list']);
    assert.equal(r.code, 0, r.stderr);
    const names = r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    const union = [...new Set([...(await tags(a.url)), ...(await tags((b as OllamaServer).url))])];
    assert.deepEqual(names.sort(), union.sort());
    assert.ok(names.includes(`${a.models.tools}:latest`), 'the model only host a has is listed');
  });

  test('`ollama run` of a model only one host has is answered there; `ollama ps` shows both hosts\' loaded models', SLOW, async () => {
    const host = (omega as TestServer).host;
    const url = (omega as TestServer).url;
    const bUrl = (b as OllamaServer).url;
    const before = await routed(url);
    const r = await ollamaCli(a.bin, host, ['run', a.models.tools, 'Say hello.']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.trim().length > 0, 'the CLI printed an answer');
    // (Not /api/ps: the two tiny models share one GGUF, and Ollama may answer one with the other's runner.)
    const after = await routed(url);
    assert.equal((after.get(a.url) ?? 0) - (before.get(a.url) ?? 0), 1, 'the chat went to host a');
    assert.equal(after.get(bUrl) ?? 0, before.get(bUrl) ?? 0, 'host b, which lacks the model, was never tried');

    // The plain model is on both hosts: one of them answers.
    const plain = await ollamaCli(a.bin, host, ['run', a.models.plain, 'Say hello.']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(plain.stdout.trim().length > 0);

    // Load the plain model on host b directly: `ollama ps` through Omega lists both hosts' models.
    const load = await fetch(`${bUrl}/api/generate`, { method: 'POST', body: JSON.stringify({ model: a.models.plain }) });
    assert.equal(load.status, 200, await load.text());
    const direct = [...(await psNames(a.url)), ...(await psNames(bUrl))];
    assert.ok(direct.includes(`${a.models.plain}:latest`));
    const ps = await ollamaCli(a.bin, host, ['ps']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^NAME\s+ID\s+SIZE\s+PROCESSOR/m);
    const listed = ps.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(listed, direct, 'every model loaded on either host, host a first');
  });

  test('`omega status` shows both hosts up with their version', SLOW, async () => {
    const config = join(dir.path, 'fleet.toml');
    writeFileSync(
      config,
      [
        '[provider.ollama]',
        `model = "${a.models.plain}"`,
        ...[a.url, (b as OllamaServer).url].flatMap((url) => ['[[provider.ollama.hosts]]', `url = "${url}"`]),
        '[memory]',
        `db_path = "${join(dir.path, 'status.db')}"`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['--config', config, 'status', '--json'], { home: dir.path });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { providers: { name: string; hosts?: { url: string; up: boolean; version?: string }[] }[] };
    const hosts = report.providers.find((p) => p.name === 'ollama')?.hosts ?? [];
    assert.deepEqual(
      hosts.map((h) => [h.url, h.up, h.version]),
      [a.url, (b as OllamaServer).url].map((url) => [url, true, a.version]),
    );
  });
});
