/**
 * `omega serve` in front of an Ollama fleet, against scripted fake hosts (real loopback
 * servers): the byte relay of generation goes to a host holding a slot and names it in
 * `x-omega-host`, fails over before the first byte and reports `connection_lost` after it;
 * `/api/show` and embeddings are routed to a host that has the model; `/api/tags`, `/api/ps`
 * and `/api/version` are merged over the hosts; `/api/pull` pulls on every host with one
 * combined progress stream, or on the host a client names; `/metrics` has per-host figures.
 * How the router ranks hosts is the fleet's own tests' subject (test/providers/ollama/fleet).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_FLEET_OPTIONS, OllamaFleet } from '../../src/providers/ollama/fleet/index.js';
import { SqliteMemory } from '../../src/gateway/memory/sqlite.js';
import type { AuditRecord } from '../../src/gateway/memory/store.js';
import type { OmegaConfig } from '../../src/config/types.js';
import { FakeOllama, chatLine, doneLine, ndjson } from '../support/fake-ollama.js';
import type { Script } from '../support/fake-ollama.js';
import { testConfig } from '../gateway/helpers.js';
import { startServer } from './helpers.js';

const CREATED = '2025-07-07T20:22:19.184789Z';

interface HostSpec {
  models: string[];
  loaded?: string[];
  version?: string;
}

function tagsEntry(name: string): Record<string, unknown> {
  return { name, model: name, modified_at: CREATED, size: 1000, digest: 'a'.repeat(64), details: { family: 'llama' } };
}

/** A fake Ollama host with `spec`'s models, loaded models and version, answering chats with `host <n>`. */
async function fakeHost(n: number, spec: HostSpec): Promise<FakeOllama> {
  const fake = await FakeOllama.start();
  const has = (m: unknown): boolean => typeof m === 'string' && spec.models.includes(m.includes(':') ? m : `${m}:latest`);
  fake.route('GET', '/', { body: 'Ollama is running' });
  fake.route('GET', '/api/version', { body: { version: spec.version ?? '0.9.6' } });
  fake.route('GET', '/api/tags', { body: { models: spec.models.map(tagsEntry) } });
  fake.route('GET', '/api/ps', {
    body: { models: (spec.loaded ?? []).map((name) => ({ ...tagsEntry(name), expires_at: '2099-01-01T00:00:00Z', size_vram: 0, context_length: 4096 })) },
  });
  fake.route('POST', '/api/show', (req) => {
    const model = (req.json as { model?: string }).model;
    if (!has(model)) return { status: 404, body: { error: `model '${model}' not found` } };
    return { body: { model_info: { 'general.architecture': 'llama', 'llama.context_length': 4096 }, capabilities: ['completion'], host: n } };
  });
  fake.route('POST', '/api/chat', (req): Script => {
    const model = (req.json as { model?: string }).model;
    if (!has(model)) return { status: 404, body: { error: `model "${model}" not found, try pulling it first` } };
    if ((req.json as { stream?: boolean }).stream === false) return { body: { ...doneLine({ model }), message: { role: 'assistant', content: `host ${n}` } } };
    return { steps: [{ write: ndjson(chatLine(`host ${n}`, { model })) }, { write: ndjson(doneLine({ model })) }] };
  });
  fake.route('POST', '/api/embed', (req) => {
    const model = (req.json as { model?: string }).model;
    if (!has(model)) return { status: 404, body: { error: `model "${model}" not found, try pulling it first` } };
    return { body: { model, embeddings: [[n, 0.5]], prompt_eval_count: 2 } };
  });
  return fake;
}

/** A config whose Ollama provider is a fleet of `urls`, with no background timers (tests drive discovery). */
function fleetConfig(urls: string[], maxConcurrent = 2): OmegaConfig {
  const config = testConfig({ ollamaUrl: urls[0] as string });
  config.provider.ollama.hosts = urls.map((url) => ({ url, weight: 1, labels: [], maxConcurrent }));
  config.provider.ollama.fleet = { ...DEFAULT_FLEET_OPTIONS, refreshIntervalMs: 0, probeIntervalMs: 0 };
  return config;
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

const chat = (model: string, stream = true) => ({ model, messages: [{ role: 'user', content: 'Hi' }], stream });

function lines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('omega serve with an Ollama fleet', () => {
  test('generation is relayed to a host that has the model, named in x-omega-host; show and embeddings are routed too', async (t) => {
    const a = await fakeHost(1, { models: ['common:latest'] });
    const b = await fakeHost(2, { models: ['common:latest', 'rare:latest'] });
    t.after(() => Promise.all([a.close(), b.close()]));
    const s = await startServer({ config: fleetConfig([a.url, b.url]) });

    const res = await post(`${s.url}/api/chat`, chat('rare'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-omega-host'), b.url);
    const out = lines(await res.text());
    assert.equal((out[0]?.message as { content: string }).content, 'host 2');
    assert.equal(out.at(-1)?.done, true);
    assert.equal(a.requestsTo('/api/chat').length, 0, 'the host without the model was not asked');

    const single = await post(`${s.url}/api/chat`, chat('rare', false));
    assert.equal(single.headers.get('x-omega-host'), b.url);
    assert.equal(((await single.json()) as { message: { content: string } }).message.content, 'host 2');

    const show = await post(`${s.url}/api/show`, { model: 'rare' });
    assert.equal(show.status, 200);
    assert.equal(show.headers.get('x-omega-host'), b.url);
    assert.equal(((await show.json()) as { host: number }).host, 2);
    const missing = await post(`${s.url}/api/show`, { model: 'nowhere' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, "model 'nowhere' not found");

    const embed = await post(`${s.url}/api/embed`, { model: 'rare', input: 'x' });
    assert.equal(embed.headers.get('x-omega-host'), b.url);
    assert.deepEqual(((await embed.json()) as { embeddings: number[][] }).embeddings, [[2, 0.5]]);
    const oai = await post(`${s.url}/v1/embeddings`, { model: 'rare', input: 'x' });
    assert.equal(oai.status, 200);
    assert.equal(oai.headers.get('x-omega-host'), b.url);

    // Through the gateway path (an alias-free `ollama/` prefix is translated, not relayed): the host still shows.
    const translated = await post(`${s.url}/v1/chat/completions`, { ...chat('rare', false) });
    assert.equal(translated.headers.get('x-omega-host'), b.url);
    assert.equal(((await translated.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content, 'host 2');
  });

  test('tags are the union of the hosts, ps lists every host, version is the lowest a host runs', async (t) => {
    const a = await fakeHost(1, { models: ['common:latest', 'a-only:latest'], loaded: ['common:latest'], version: '0.12.3' });
    const b = await fakeHost(2, { models: ['common:latest', 'b-only:latest'], loaded: ['b-only:latest'], version: '0.9.6' });
    t.after(() => Promise.all([a.close(), b.close()]));
    const s = await startServer({ config: fleetConfig([a.url, b.url]) });

    const tags = await fetch(`${s.url}/api/tags`);
    const names = ((await tags.json()) as { models: { name: string }[] }).models.map((m) => m.name).sort();
    assert.deepEqual(names, ['a-only:latest', 'b-only:latest', 'common:latest']);

    const ps = await fetch(`${s.url}/api/ps`);
    assert.equal(ps.headers.get('x-omega-hosts'), `${a.url}, ${b.url}`);
    assert.deepEqual(((await ps.json()) as { models: { name: string }[] }).models.map((m) => m.name), ['common:latest', 'b-only:latest']);

    assert.deepEqual(await (await fetch(`${s.url}/api/version`)).json(), { version: '0.9.6' });
    // A host that is down is left out of the merged answers, not an error.
    await b.close();
    assert.deepEqual(await (await fetch(`${s.url}/api/version`)).json(), { version: '0.12.3' });
    const after = ((await (await fetch(`${s.url}/api/tags`)).json()) as { models: { name: string }[] }).models.map((m) => m.name).sort();
    assert.deepEqual(after, ['a-only:latest', 'common:latest']);
  });

  test('a host that fails before the first byte is replaced by the next; after it, the client gets the partial text and connection_lost', async (t) => {
    // Host a has the model loaded, so the router tries it first.
    const a = await fakeHost(1, { models: ['m:latest'], loaded: ['m:latest'] });
    const b = await fakeHost(2, { models: ['m:latest'] });
    t.after(() => Promise.all([a.close(), b.close()]));
    const s = await startServer({ config: fleetConfig([a.url, b.url]) });
    a.once('POST', '/api/chat', { reset: true });

    const res = await post(`${s.url}/api/chat`, chat('m'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-omega-host'), b.url);
    assert.equal((lines(await res.text())[0]?.message as { content: string }).content, 'host 2');
    assert.equal(a.requestsTo('/api/chat').length, 1, 'host a was tried first');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`omega_fleet_failovers_total\\{host="${a.url}",code="unavailable"\\} 1`));

    // Dies mid-answer: no silent restart elsewhere.
    a.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('partial ')) }, { delay: 20 }, { reset: true }] });
    b.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('partial ')) }, { delay: 20 }, { reset: true }] });
    const before = a.requestsTo('/api/chat').length + b.requestsTo('/api/chat').length;
    const broken = await post(`${s.url}/api/chat`, chat('m'));
    const got = lines(await broken.text());
    assert.equal((got[0]?.message as { content: string }).content, 'partial ');
    assert.match(String(got.at(-1)?.error), /broke off mid-answer/);
    assert.equal(a.requestsTo('/api/chat').length + b.requestsTo('/api/chat').length, before + 1, 'one host asked, no retry');
  });

  test('every host tried is audited with its host, on the byte relay and on the gateway path', async (t) => {
    // Without a conversation the request is relayed byte for byte; with one it takes the gateway path.
    for (const [conversation, stream] of [[undefined, true], ['audit-stream', true], ['audit-whole', false]] as const) {
      // Host a has the model loaded, so the router tries it first; it resets before the first byte.
      const a = await fakeHost(1, { models: ['m:latest'], loaded: ['m:latest'] });
      const b = await fakeHost(2, { models: ['m:latest'] });
      t.after(() => Promise.all([a.close(), b.close()]));
      a.once('POST', '/api/chat', { reset: true });
      const memory = SqliteMemory.open(':memory:');
      const s = await startServer({ config: fleetConfig([a.url, b.url]), memory });
      const res = await post(`${s.url}/api/chat`, chat('m', stream), conversation === undefined ? {} : { 'x-omega-conversation': conversation });
      assert.equal(res.status, 200);
      // A streamed gateway answer names its host only at the end, after the headers went out.
      if (conversation === undefined) assert.equal(res.headers.get('x-omega-host'), b.url);
      await res.text();
      // The relay writes its rows without waiting for them: poll briefly.
      let rows: AuditRecord[] = [];
      for (let i = 0; i < 100 && rows.length < 2; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 10));
        rows = memory.listAudit({ limit: 100 });
      }
      const label = conversation ?? 'relay';
      // A reset before any answer: the relay calls it unavailable, the Ollama provider connection_lost.
      const code = conversation === undefined ? 'unavailable' : 'connection_lost';
      assert.deepEqual(
        rows.map((r) => [r.provider, r.outcome, r.errorCode, r.host]),
        [
          ['ollama', code, code, a.url],
          ['ollama', 'ok', undefined, b.url],
        ],
        label,
      );
      assert.ok((rows[0]?.errorMessage ?? '').length > 0 && !rows[0]!.errorMessage!.startsWith(a.url), `${label}: the failed host row says why, without the host in the text`);
      await s.close();
    }
  });

  test('a relayed request every host fails is audited once per host, each with its host', async (t) => {
    const a = await fakeHost(1, { models: ['m:latest'], loaded: ['m:latest'] });
    const b = await fakeHost(2, { models: ['m:latest'] });
    t.after(() => Promise.all([a.close(), b.close()]));
    a.route('POST', '/api/chat', { reset: true });
    b.route('POST', '/api/chat', { reset: true });
    const memory = SqliteMemory.open(':memory:');
    const s = await startServer({ config: fleetConfig([a.url, b.url]), memory });
    const res = await post(`${s.url}/api/chat`, chat('m'));
    assert.ok(res.status >= 500, `status ${res.status}`);
    await res.text();
    let rows: AuditRecord[] = [];
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 10));
      rows = memory.listAudit({ limit: 100 });
    }
    await new Promise((r) => setTimeout(r, 30)); // a third row, if any, would be written by now
    assert.deepEqual(
      memory.listAudit({ limit: 100 }).map((r) => [r.outcome, r.host]),
      [
        ['unavailable', a.url],
        ['unavailable', b.url],
      ],
    );
  });

  test('an embedding call leaves a host that no longer has the model (its list was stale) for one that has it', async (t) => {
    const a = await fakeHost(1, { models: ['emb:latest'], loaded: ['emb:latest'] });
    const b = await fakeHost(2, { models: ['emb:latest'] });
    t.after(() => Promise.all([a.close(), b.close()]));
    a.route('POST', '/api/embed', { status: 404, body: { error: 'model "emb" not found, try pulling it first' } });
    const s = await startServer({ config: fleetConfig([a.url, b.url]) });
    const res = await post(`${s.url}/api/embed`, { model: 'emb', input: 'x' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-omega-host'), b.url);
    assert.equal(a.requestsTo('/api/embed').length, 1, 'host a, where the model was loaded, was asked first');
    // With no other host left, the host's own 404 reaches the client in Ollama's words.
    b.route('POST', '/api/embed', { status: 404, body: { error: 'model "emb" not found, try pulling it first' } });
    const gone = await post(`${s.url}/api/embed`, { model: 'emb', input: 'x' });
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as { error: string }).error, /not found/);
  });

  test('when every slot is busy, relayed requests wait for one instead of piling onto a host', async (t) => {
    const a = await fakeHost(1, { models: ['m:latest'] });
    t.after(() => a.close());
    a.route('POST', '/api/chat', { steps: [{ write: ndjson(chatLine('slow ')) }, { delay: 150 }, { write: ndjson(doneLine({ model: 'm' })) }] });
    const s = await startServer({ config: fleetConfig([a.url], 1) });
    const answers = await Promise.all([1, 2, 3].map(() => post(`${s.url}/api/chat`, chat('m')).then((r) => r.text())));
    assert.equal(answers.length, 3);
    for (const text of answers) assert.equal(lines(text).at(-1)?.done, true);
    assert.equal(a.maxInFlight('/api/chat'), 1, 'the host with one slot never ran two at once');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /omega_fleet_queued_requests_total\{model="m:latest"\} 2/);
  });

  test('without x-omega-conversation, the /api/chat turns of one conversation land on one host; another conversation may go elsewhere', async (t) => {
    const a = await fakeHost(1, { models: ['m:latest'], loaded: ['m:latest'] });
    const b = await fakeHost(2, { models: ['m:latest'], loaded: ['m:latest'] });
    // Equal hosts and a spread-out tie-break: without a sticky key, requests alternate.
    let n = 0;
    const fleet = new OllamaFleet({
      hosts: [a.url, b.url].map((url) => ({ url, weight: 1, labels: [] })),
      fleet: { refreshIntervalMs: 0, probeIntervalMs: 0 },
      provider: { model: 'm', timeouts: { connectMs: 1000, loadMs: 3000, idleMs: 3000 } },
      random: () => (n++ * 0.618) % 1,
    });
    t.after(async () => {
      await fleet.close();
      await Promise.all([a.close(), b.close()]);
    });
    const s = await startServer({ config: fleetConfig([a.url, b.url]), providers: { ollama: fleet } });
    // The whole conversation every turn and no id, as the ollama CLI and Open WebUI send it.
    const messages: { role: string; content: string }[] = [{ role: 'system', content: 'Be brief.' }];
    const turns: (string | null)[] = [];
    const others = new Set<string | null>();
    for (let turn = 1; turn <= 4; turn++) {
      messages.push({ role: 'user', content: `question ${turn}` });
      const res = await post(`${s.url}/api/chat`, { model: 'm', messages, stream: turn % 2 === 0 });
      assert.equal(res.status, 200);
      turns.push(res.headers.get('x-omega-host'));
      messages.push({ role: 'assistant', content: (lines(await res.text())[0]?.message as { content: string }).content });
      const other = await post(`${s.url}/api/chat`, { model: 'm', messages: [{ role: 'user', content: `another ${turn}` }] });
      others.add(other.headers.get('x-omega-host'));
      await other.text();
    }
    assert.equal(new Set(turns).size, 1, `one host for every turn: ${turns.join(', ')}`);
    assert.ok(turns[0] === a.url || turns[0] === b.url);
    assert.equal(others.size, 2, 'other conversations still spread over the equal hosts');
  });

  test('pull goes to every host as one progress stream (layer bytes summed), or to the host the client names', async (t) => {
    const a = await fakeHost(1, { models: [] });
    const b = await fakeHost(2, { models: [] });
    t.after(() => Promise.all([a.close(), b.close()]));
    const digest = `sha256:${'c'.repeat(64)}`;
    const progress = (total: number): Script => ({
      steps: [
        { write: ndjson({ status: 'pulling manifest' }) },
        ...[0, total / 2, total].map((completed) => ({ write: ndjson({ status: `pulling ${'c'.repeat(12)}`, digest, total, completed }) })),
        { write: ndjson({ status: 'verifying sha256 digest' }, { status: 'writing manifest' }, { status: 'success' }) },
      ],
    });
    a.route('POST', '/api/pull', progress(1000));
    b.route('POST', '/api/pull', progress(1000));
    const s = await startServer({ config: fleetConfig([a.url, b.url]) });

    const res = await post(`${s.url}/api/pull`, { model: 'new' });
    assert.equal(res.status, 200);
    const got = lines(await res.text());
    assert.deepEqual(got.filter((l) => l.digest === undefined).map((l) => l.status), ['pulling manifest', 'verifying sha256 digest', 'writing manifest', 'success']);
    const layer = got.filter((l) => l.digest === digest);
    assert.equal(layer.at(-1)?.total, 2000, 'both hosts count in the layer total');
    assert.equal(layer.at(-1)?.completed, 2000);
    assert.equal(a.requestsTo('/api/pull').length, 1);
    assert.equal(b.requestsTo('/api/pull').length, 1);

    // One host fails: the stream ends with an error naming it, and the other host's pull still ran.
    b.route('POST', '/api/pull', { steps: [{ write: ndjson({ status: 'pulling manifest' }, { error: 'pull model manifest: file does not exist' }) }] });
    const partial = lines(await (await post(`${s.url}/api/pull`, { model: 'new' })).text());
    assert.match(String(partial.at(-1)?.error), new RegExp(`pull failed on 1 of 2 hosts \\(${b.url}: .*file does not exist.*\\); it succeeded on ${a.url}`));
    assert.equal(a.requestsTo('/api/pull').length, 2);

    // Named host: the bytes of that host only.
    const one = await post(`${s.url}/api/pull?host=${encodeURIComponent(a.url)}`, { model: 'new' });
    assert.equal(one.headers.get('x-omega-host'), a.url);
    assert.equal(lines(await one.text()).at(-1)?.status, 'success');
    assert.equal(a.requestsTo('/api/pull').length, 3);
    assert.equal(b.requestsTo('/api/pull').length, 2);
    const bad = await post(`${s.url}/api/pull`, { model: 'new' }, { 'x-omega-host': 'http://127.0.0.1:1' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /is not a host of this fleet/);
  });

  test('/metrics has per-host gauges and routed-request counters', async (t) => {
    const a = await fakeHost(1, { models: ['m:latest'], version: '0.9.6' });
    const b = await fakeHost(2, { models: ['m:latest'], version: '0.12.3' });
    t.after(() => Promise.all([a.close(), b.close()]));
    const s = await startServer({ config: fleetConfig([a.url, b.url]) });
    for (let i = 0; i < 4; i++) await (await post(`${s.url}/api/chat`, chat('m'))).text();
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, new RegExp(`omega_fleet_host_up\\{host="${a.url}"\\} 1`));
    assert.match(text, new RegExp(`omega_fleet_host_circuit_state\\{host="${a.url}",state="closed"\\} 1`));
    assert.match(text, new RegExp(`omega_fleet_host_in_flight_requests\\{host="${a.url}"\\} 0`));
    assert.match(text, new RegExp(`omega_fleet_host_info\\{host="${b.url}",version="0.12.3"\\} 1`));
    assert.match(text, new RegExp(`omega_fleet_host_slots\\{host="${a.url}"\\} 2`));
    const routed = [...text.matchAll(/omega_fleet_routed_requests_total\{host="([^"]+)",reason="[a-z_]+"\} (\d+)/g)];
    assert.equal(routed.reduce((n, m) => n + Number(m[2]), 0), 4, text);
  });
});
