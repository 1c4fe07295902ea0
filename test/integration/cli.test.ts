/**
 * The `omega` CLI as a subprocess against a real `ollama serve` (each version the runner tests) with the tiny
 * generated models. Run by `npm test` with a shared server, or alone (it starts its own):
 *   node --import tsx --test test/integration/cli.test.ts
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ollamaSkipReason, useOllama } from '../support/ollama-harness.js';
import { closedPort, runCli, tempHome, writeConfig } from '../cli/helpers.js';

const SKIP = ollamaSkipReason();
const SLOW = { timeout: 300_000, skip: SKIP };
// Short, repeatable answers: the tiny model is random weights, so only shape and flow are tested.
const OPTIONS = '[provider.ollama.options]\nnum_predict = 12\ntemperature = 0\nseed = 7\n\n[provider.ollama.timeouts]\nload = 300\nidle = 120\n';

interface AskJson {
  text: string;
  metadata: { providerUsed: string; model: string; promptTokens?: number; completionTokens?: number; processingTimeMs: number };
}

describe('omega CLI against a real ollama serve', () => {
  const ollama = useOllama();
  let home: ReturnType<typeof tempHome>;
  let config: string;

  before(() => {
    home = tempHome();
    if (SKIP) return;
    config = writeConfig(home.path, { baseUrl: ollama.url, model: ollama.models.plain, extra: OPTIONS });
  });
  after(() => home.remove());

  const omega = (args: string[], input?: string) =>
    runCli(['--config', config, ...args], { home: home.path, timeoutMs: 280_000, ...(input === undefined ? {} : { input }) });

  test('ask streams the answer and --json has text and metadata', SLOW, async () => {
    const json = await omega(['ask', '--json', 'Why is the sky blue?']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as AskJson;
    assert.deepEqual(Object.keys(parsed).sort(), ['metadata', 'text']);
    assert.equal(typeof parsed.text, 'string');
    assert.equal(parsed.metadata.providerUsed, 'ollama');
    assert.equal(parsed.metadata.model, ollama.models.plain);
    assert.ok((parsed.metadata.completionTokens ?? 0) > 0, 'the model generated tokens');

    const streamed = await omega(['ask', 'Why is the sky blue?']);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.equal(streamed.stderr, '');
    // temperature 0 and a fixed seed: the same prompt gives the same text either way.
    assert.equal(streamed.stdout, parsed.text.endsWith('\n') ? parsed.text : `${parsed.text}\n`);
  });

  test('ask reads the prompt from stdin, alone or as `-`', SLOW, async () => {
    for (const args of [['ask', '--json'], ['ask', '--json', '-']]) {
      const r = await omega(args, 'Why is the sky blue?\n');
      assert.equal(r.code, 0, r.stderr);
      const parsed = JSON.parse(r.stdout) as AskJson;
      assert.ok((parsed.metadata.promptTokens ?? 0) > 0);
    }
  });

  test('ask --conversation sends the earlier exchange along the next time', SLOW, async () => {
    const first = JSON.parse((await omega(['ask', '--json', '--conversation', 'it', 'Hello there.'])).stdout) as AskJson;
    const second = JSON.parse((await omega(['ask', '--json', '--conversation', 'it', 'Hello there.'])).stdout) as AskJson;
    assert.ok(
      (second.metadata.promptTokens ?? 0) > (first.metadata.promptTokens ?? 0),
      `prompt tokens ${second.metadata.promptTokens} vs ${first.metadata.promptTokens}`,
    );
  });

  test('chat answers piped lines and exits 0 at end of input', SLOW, async () => {
    const r = await omega(['chat'], 'Hello\n/model\nBye\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Model: ${ollama.models.plain}`));
    assert.match(r.stderr, /New conversation chat-/);
  });

  test('models lists the installed models with their details', SLOW, async () => {
    const r = await omega(['models']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+PROVIDER\s+SIZE\s+PARAMETERS\s+QUANTIZATION\s+CONTEXT\s+CAPABILITIES\s+LOCAL$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name}:latest `))?.trim().split(/\s{2,}/);
    const plain = row(ollama.models.plain);
    const tools = row(ollama.models.tools);
    assert.ok(plain && tools, r.stdout);
    assert.equal(plain[1], 'ollama');
    assert.match(plain[2] ?? '', /^\d+(\.\d)? [KMG]?B$/);
    assert.match(plain[5] ?? '', /^\d+K?$/, 'context window from /api/show');
    assert.equal(plain.at(-1), 'yes');
    assert.match(tools[6] ?? '', /\btools\b/);
    assert.doesNotMatch(plain[6] ?? '', /\btools\b/);
  });

  test('status reports the running server with its version and exits 0', SLOW, async () => {
    const version = ((await (await fetch(`${ollama.url}/api/version`)).json()) as { version: string }).version;
    const r = await omega(['status', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; providers: { name: string; version?: string; modelInstalled?: boolean }[] };
    assert.equal(report.ok, true);
    const entry = report.providers.find((p) => p.name === 'ollama');
    assert.equal(entry?.version, version);
    assert.equal(entry?.modelInstalled, true);

    const text = await omega(['status']);
    assert.equal(text.code, 0);
    assert.ok(text.stdout.includes(`running, version ${version}`), text.stdout);
  });

  test('status says to pull a default model that is not installed (exit 1)', SLOW, async () => {
    const missing = writeConfig(home.path, { baseUrl: ollama.url, model: 'not-pulled-yet', name: 'missing.toml' });
    const r = await runCli(['--config', missing, 'status'], { home: home.path });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Run `ollama pull not-pulled-yet`/);
  });

  test('pull of an unknown model fails with a clear one-line error (exit 1)', SLOW, async () => {
    const r = await omega(['pull', 'omega-no-such-model-xyz']);
    assert.equal(r.code, 1);
    const last = r.stderr.trimEnd().split('\n').at(-1) ?? '';
    // Without internet Ollama cannot reach the registry; with it, the registry says "not found".
    assert.match(last, /^omega: (Model .omega-no-such-model-xyz. does not exist in the registry|Ollama could not reach the model registry to pull .omega-no-such-model-xyz.)/);
    assert.doesNotMatch(last, /ollama serve/, 'the server is running; the registry is the problem');
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test('pull of a malformed model name is a usage error (exit 2)', SLOW, async () => {
    const r = await omega(['pull', 'no//such::name']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^omega: "no\/\/such::name" is not a valid model name/m);
  });

  test('status with Ollama down says to start it (exit 1)', SLOW, async () => {
    const port = await closedPort();
    const down = writeConfig(home.path, { baseUrl: `http://127.0.0.1:${port}`, name: 'down.toml' });
    const r = await runCli(['--config', down, 'status'], { home: home.path });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Start it with `ollama serve`/);
  });

  test('a bad config is exit 2 and names the key', SLOW, async () => {
    const bad = join(home.path, 'bad.toml');
    writeFileSync(bad, `[provider.ollama]\nenabled = true\nbase_url = "${ollama.url}"\nmodel = ["x"]\n`);
    const r = await runCli(['--config', bad, 'ask', 'hi'], { home: home.path });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /provider\.ollama\.model/);
  });
});
