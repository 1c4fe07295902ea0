/**
 * Resolving Ollama model names through a store on disk, with hand-made manifests in a temp dir:
 * name defaults, the layers that carry template, system and parameters, and every way a store
 * entry can fail (missing tag, missing blob, unknown media types, a cloud stub, a vision model,
 * safetensors layers), plus `OLLAMA_MODELS` and a plain .gguf path.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderError } from '../../../src/core/errors.js';
import {
  MEDIA,
  blobPath,
  defaultModelsDir,
  displayName,
  listStore,
  parseModelName,
  resolveModel,
  unknownMediaTypes,
} from '../../../src/providers/embedded/store.js';

/** A store under construction: blobs by content, manifests by name. */
class Store {
  constructor(readonly root: string) {
    mkdirSync(join(root, 'blobs'), { recursive: true });
  }

  /** Writes `content` as a blob and returns its layer. */
  blob(mediaType: string, content: string, write = true): { mediaType: string; digest: string; size: number } {
    const hex = createHash('sha256').update(content).digest('hex');
    if (write) writeFileSync(join(this.root, 'blobs', `sha256-${hex}`), content);
    return { mediaType, digest: `sha256:${hex}`, size: Buffer.byteLength(content) };
  }

  manifest(path: string, layers: object[], config?: object): void {
    const dir = join(this.root, 'manifests', ...path.split('/').slice(0, -1));
    mkdirSync(dir, { recursive: true });
    const body: Record<string, unknown> = { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', layers };
    if (config !== undefined) body.config = this.blob('application/vnd.docker.container.image.v1+json', JSON.stringify(config));
    writeFileSync(join(this.root, 'manifests', path), JSON.stringify(body));
  }
}

function expectError(fn: () => unknown, code: string, pattern: RegExp): ProviderError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProviderError, `expected a ProviderError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    assert.equal(error.provider, 'embedded');
    return error;
  }
  assert.fail('expected an error');
}

describe('Ollama model names', () => {
  test('left-out parts take Ollama\'s defaults; a host may carry a port', () => {
    assert.deepEqual(parseModelName('llama3.2'), { host: 'registry.ollama.ai', namespace: 'library', model: 'llama3.2', tag: 'latest' });
    assert.deepEqual(parseModelName('user/m:q4'), { host: 'registry.ollama.ai', namespace: 'user', model: 'm', tag: 'q4' });
    assert.deepEqual(parseModelName('localhost:5000/ns/m'), { host: 'localhost:5000', namespace: 'ns', model: 'm', tag: 'latest' });
    assert.deepEqual(parseModelName('hf.co/org/repo:Q4_K_M'), { host: 'hf.co', namespace: 'org', model: 'repo', tag: 'Q4_K_M' });
  });

  test('names Ollama would refuse are refused', () => {
    for (const bad of ['', 'a/b/c/d', '../etc', 'm:', 'a//b', 'm@sha256:00', 'ns/..']) assert.equal(parseModelName(bad), undefined, bad);
  });

  test('the display name leaves out the default host and namespace, as `ollama list` does', () => {
    assert.equal(displayName({ host: 'registry.ollama.ai', namespace: 'library', model: 'm', tag: 'latest' }), 'm:latest');
    assert.equal(displayName({ host: 'registry.ollama.ai', namespace: 'u', model: 'm', tag: 't' }), 'u/m:t');
    assert.equal(displayName({ host: 'hf.co', namespace: 'u', model: 'm', tag: 't' }), 'hf.co/u/m:t');
  });

  test('a digest maps to blobs/sha256-<hex>; anything else to nothing', () => {
    const hex = 'a'.repeat(64);
    assert.equal(blobPath('/s', `sha256:${hex}`), join('/s', 'blobs', `sha256-${hex}`));
    assert.equal(blobPath('/s', 'sha256:../../etc/passwd'), undefined);
    assert.equal(blobPath('/s', `md5:${hex}`), undefined);
  });

  test('the store is $OLLAMA_MODELS when set, else ~/.ollama/models', () => {
    assert.equal(defaultModelsDir({ OLLAMA_MODELS: '/data/ollama' }, '/home/u'), '/data/ollama');
    assert.equal(defaultModelsDir({ OLLAMA_MODELS: '  ' }, '/home/u'), join('/home/u', '.ollama', 'models'));
    assert.equal(defaultModelsDir({}, '/home/u'), join('/home/u', '.ollama', 'models'));
  });
});

describe('a hand-made store', () => {
  let dir: string;
  let store: Store;
  let gguf: ReturnType<Store['blob']>;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'omega-store-'));
    store = new Store(join(dir, 'models'));
    gguf = store.blob(MEDIA.model, 'GGUF fake weights');
    const template = store.blob(MEDIA.template, '{{ if .System }}S:{{ .System }}\n{{ end }}U:{{ .Prompt }}\nA:{{ .Response }}');
    const system = store.blob(MEDIA.system, 'You are terse.');
    const params = store.blob(MEDIA.params, JSON.stringify({ temperature: 0.2, stop: ['\nU:'], num_ctx: 1024 }));
    const messages = store.blob(MEDIA.messages, JSON.stringify([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }]));
    store.manifest('registry.ollama.ai/library/plain/latest', [gguf, template, system, params, messages, store.blob(MEDIA.license, 'MIT')], {
      model_family: 'gemma3',
      file_type: 'Q4_K_M',
    });
    store.manifest('registry.ollama.ai/someone/tagged/v1', [gguf]);
    store.manifest('registry.ollama.ai/library/rendered/latest', [gguf], { renderer: 'qwen3-coder', parser: 'qwen3-coder' });
    store.manifest('registry.ollama.ai/library/missing-blob/latest', [store.blob(MEDIA.model, 'never written', false)]);
    store.manifest('registry.ollama.ai/library/missing-template/latest', [gguf, store.blob(MEDIA.template, 'gone', false)]);
    store.manifest('registry.ollama.ai/library/unknown-layers/latest', [gguf, store.blob('application/vnd.ollama.image.future', 'x')]);
    store.manifest('registry.ollama.ai/library/only-unknown/latest', [store.blob('application/vnd.example.weights', 'x')]);
    store.manifest('registry.ollama.ai/library/cloudy/latest', [], { remote_host: 'https://ollama.com:443', remote_model: 'gpt-oss:120b' });
    store.manifest('registry.ollama.ai/library/vision/latest', [gguf, store.blob(MEDIA.projector, 'projector')]);
    store.manifest('registry.ollama.ai/library/imagegen/latest', [store.blob(MEDIA.tensor, 't1'), store.blob(MEDIA.json, '{}')]);
    store.manifest('registry.ollama.ai/library/adapted/latest', [gguf, store.blob(MEDIA.adapter, 'lora')]);
    mkdirSync(join(store.root, 'manifests', 'registry.ollama.ai', 'library', 'broken'), { recursive: true });
    writeFileSync(join(store.root, 'manifests', 'registry.ollama.ai', 'library', 'broken', 'latest'), '{not json');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a name resolves to its GGUF blob with the template, system, params and messages of its manifest', () => {
    const m = resolveModel(store.root, 'plain');
    assert.equal(m.name, 'plain:latest');
    assert.equal(m.source, 'store');
    assert.equal(m.modelPath, blobPath(store.root, gguf.digest));
    assert.equal(m.digest, gguf.digest);
    assert.equal(m.sizeBytes, gguf.size);
    assert.match(m.template ?? '', /U:\{\{ \.Prompt \}\}/);
    assert.equal(m.system, 'You are terse.');
    assert.deepEqual(m.params, { temperature: 0.2, stop: ['\nU:'], num_ctx: 1024 });
    assert.deepEqual(m.messages, [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ]);
    assert.equal(m.family, 'gemma3');
    assert.equal(m.quantization, 'Q4_K_M');
    // Ollama lower-cases manifest paths, so any case finds the model; the explicit full name too.
    assert.equal(resolveModel(store.root, 'PLAIN:Latest').modelPath, m.modelPath);
    assert.equal(resolveModel(store.root, 'registry.ollama.ai/library/plain:latest').modelPath, m.modelPath);
    assert.equal(resolveModel(store.root, 'someone/tagged:v1').name, 'someone/tagged:v1');
  });

  test("without a template layer Ollama's default `{{ .Prompt }}` applies, unless a built-in renderer formats the prompt", () => {
    assert.equal(resolveModel(store.root, 'someone/tagged:v1').template, '{{ .Prompt }}');
    assert.equal(resolveModel(store.root, 'rendered').template, undefined);
  });

  test('a tag that does not exist is model_not_found saying `ollama pull <name>`', () => {
    const e = expectError(() => resolveModel(store.root, 'plain:7b'), 'model_not_found', /ollama pull plain:7b/);
    assert.equal(e.model, 'plain:7b');
    assert.equal(e.retryable, false);
    expectError(() => resolveModel(store.root, 'nothing-here'), 'model_not_found', /`ollama pull nothing-here`/);
  });

  test('a missing blob is model_not_found naming the digest and the pull that restores it', () => {
    expectError(() => resolveModel(store.root, 'missing-blob'), 'model_not_found', /model file of missing-blob:latest \(sha256:[0-9a-f]{64}\) is missing .*ollama pull missing-blob/);
    expectError(() => resolveModel(store.root, 'missing-template'), 'model_not_found', /template layer .* is missing/);
  });

  test('unknown media types beside a GGUF are passed over (and reported); with no GGUF the model is unsupported', () => {
    assert.equal(resolveModel(store.root, 'unknown-layers').modelPath, blobPath(store.root, gguf.digest));
    assert.deepEqual(unknownMediaTypes(store.root, 'unknown-layers'), ['application/vnd.ollama.image.future']);
    assert.deepEqual(unknownMediaTypes(store.root, 'plain'), []);
    expectError(() => resolveModel(store.root, 'only-unknown'), 'unsupported', /no GGUF model layer .*application\/vnd\.example\.weights/);
  });

  test('a cloud stub is unsupported, naming where it runs', () => {
    const e = expectError(() => resolveModel(store.root, 'cloudy'), 'unsupported', /cloud model that runs at https:\/\/ollama\.com:443 as gpt-oss:120b/);
    assert.match(e.hint ?? '', /ollama serve/);
  });

  test('vision projectors, safetensors tensors and LoRA adapters are unsupported, each saying why', () => {
    expectError(() => resolveModel(store.root, 'vision'), 'unsupported', /vision projector/);
    expectError(() => resolveModel(store.root, 'imagegen'), 'unsupported', /safetensors/);
    expectError(() => resolveModel(store.root, 'adapted'), 'unsupported', /LoRA adapter/);
  });

  test('a manifest that is not JSON, and a name Ollama would refuse, are clear errors', () => {
    expectError(() => resolveModel(store.root, 'broken'), 'model_not_found', /not valid JSON.*ollama pull broken/);
    expectError(() => resolveModel(store.root, 'a/b/c/d'), 'bad_request', /not a model name Ollama accepts/);
  });

  test('a store path without manifests says so and names the setting', () => {
    expectError(() => resolveModel(join(dir, 'empty'), 'plain'), 'model_not_found', /holds no Ollama model store \(set provider\.embedded\.models_dir or OLLAMA_MODELS\)/);
  });

  test('a .gguf path loads as a plain file; a missing one is model_not_found', () => {
    const file = join(dir, 'direct.gguf');
    writeFileSync(file, 'GGUF');
    const m = resolveModel(store.root, file);
    assert.equal(m.source, 'file');
    assert.equal(m.modelPath, file);
    assert.deepEqual(m.params, {});
    expectError(() => resolveModel(store.root, join(dir, 'absent.gguf')), 'model_not_found', /no GGUF file at/);
  });

  test('listing covers every manifest: runnable ones resolved, the others with their reason', () => {
    const entries = listStore(store.root);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.deepEqual(
      entries.map((e) => e.name),
      [...entries.map((e) => e.name)].sort((a, b) => a.localeCompare(b)),
    );
    assert.equal(byName.get('plain:latest')?.ok, true);
    assert.equal(byName.get('someone/tagged:v1')?.ok, true);
    assert.equal(byName.get('unknown-layers:latest')?.ok, true);
    for (const bad of ['cloudy:latest', 'vision:latest', 'imagegen:latest', 'missing-blob:latest', 'only-unknown:latest', 'broken:latest']) {
      const entry = byName.get(bad);
      assert.equal(entry?.ok, false, bad);
    }
    const cloud = byName.get('cloudy:latest');
    assert.ok(cloud !== undefined && !cloud.ok);
    assert.equal(cloud.remoteHost, 'https://ollama.com:443');
    assert.equal(cloud.remoteModel, 'gpt-oss:120b');
    assert.deepEqual(listStore(join(dir, 'nowhere')), []);
  });
});

describe('a non-default OLLAMA_MODELS', () => {
  test('the provider reads the store OLLAMA_MODELS names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'omega-store-env-'));
    try {
      const store = new Store(join(dir, 'elsewhere'));
      store.manifest('registry.ollama.ai/library/here/latest', [store.blob(MEDIA.model, 'weights')]);
      const { EmbeddedProvider } = await import('../../../src/providers/embedded/provider.js');
      const provider = new EmbeddedProvider({ env: { OLLAMA_MODELS: store.root, HOME: join(dir, 'home') } });
      assert.equal(provider.modelsDir, store.root);
      assert.equal(resolveModel(provider.modelsDir, 'here').name, 'here:latest');
      const other = new EmbeddedProvider({ env: { HOME: join(dir, 'home') } });
      assert.equal(other.modelsDir, join(dir, 'home', '.ollama', 'models'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
