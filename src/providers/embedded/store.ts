/**
 * Ollama's model store, read from disk: the embedded engine answers from the same files `ollama
 * serve` would load, so it needs no copy of any model and no running server.
 *
 * Layout (Ollama 0.17): `<root>/manifests/<host>/<namespace>/<model>/<tag>` is a JSON manifest
 * whose layers point at `<root>/blobs/sha256-<hex>`. The `application/vnd.ollama.image.model`
 * layer is the GGUF; the template, system, params and messages layers carry what the Modelfile
 * said. A name or path ending in `.gguf` is loaded as a plain file instead.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProviderError } from '../../core/errors.js';
import type { ChatMessage, GenerationOptions } from '../../core/types.js';

/** The provider name errors carry. */
export const EMBEDDED = 'embedded';

/** Ollama's defaults for the parts of a model name left out (`types/model/name.go`). */
export const NAME_DEFAULTS = { host: 'registry.ollama.ai', namespace: 'library', tag: 'latest' } as const;

/** The layer media types Ollama writes, by role. */
export const MEDIA = {
  model: 'application/vnd.ollama.image.model',
  projector: 'application/vnd.ollama.image.projector',
  adapter: 'application/vnd.ollama.image.adapter',
  template: 'application/vnd.ollama.image.template',
  system: 'application/vnd.ollama.image.system',
  params: 'application/vnd.ollama.image.params',
  messages: 'application/vnd.ollama.image.messages',
  license: 'application/vnd.ollama.image.license',
  prompt: 'application/vnd.ollama.image.prompt',
  embed: 'application/vnd.ollama.image.embed',
  tensor: 'application/vnd.ollama.image.tensor',
  json: 'application/vnd.ollama.image.json',
} as const;

/** Media types that change nothing about how a model runs here, so they are passed over quietly. */
const HARMLESS: ReadonlySet<string> = new Set([MEDIA.license, MEDIA.prompt, MEDIA.embed]);

/** A model name split into Ollama's four parts. */
export interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

/** One manifest layer. */
interface Layer {
  mediaType: string;
  digest: string;
  size?: number;
}

/** The config blob's fields this module reads (`types/model/config.go` ConfigV2). */
interface ModelConfigBlob {
  model_family?: string;
  model_type?: string;
  file_type?: string;
  remote_host?: string;
  remote_model?: string;
  capabilities?: string[];
  /** Set when Ollama renders prompts with a built-in renderer instead of a template. */
  renderer?: string;
}

/** Ollama's template for a model that brought none (`template.DefaultTemplate`). */
export const OLLAMA_DEFAULT_TEMPLATE = '{{ .Prompt }}';

/** A model the engine can load, with what its manifest says about running it. */
export interface ResolvedModel {
  /** The name as Ollama shows it (`llama3.2:latest`, `user/model:tag`, or the file path). */
  name: string;
  /** The GGUF to load. */
  modelPath: string;
  /** `store` for a manifest, `file` for a plain GGUF path. */
  source: 'store' | 'file';
  /**
   * The manifest's template, verbatim (Go template syntax); Ollama's default `{{ .Prompt }}` when a
   * store model has none; unset for a plain GGUF file or a model Ollama formats with a renderer.
   */
  template?: string;
  /** The manifest's system prompt. */
  system?: string;
  /** The manifest's parameters, in Ollama's option names. */
  params: GenerationOptions;
  /** The manifest's MESSAGE lines: turns that go before the conversation. */
  messages: ChatMessage[];
  /** The model layer's digest (`sha256:…`), for a store model. */
  digest?: string;
  sizeBytes: number;
  modifiedAt?: string;
  family?: string;
  quantization?: string;
}

/** One entry of the store: a model that runs, or one that does not and why. */
export type StoreEntry =
  | { name: string; ok: true; model: ResolvedModel }
  | { name: string; ok: false; error: ProviderError; remoteHost?: string; remoteModel?: string; sizeBytes?: number; modifiedAt?: string };

/** `$OLLAMA_MODELS`, else `~/.ollama/models`, as Ollama itself decides (`envconfig.Models`). */
export function defaultModelsDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const fromEnv = env.OLLAMA_MODELS?.trim();
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return join(home, '.ollama', 'models');
}

/** True when `name` means a GGUF file rather than a store name. */
export function isGgufPath(name: string): boolean {
  return /\.gguf$/i.test(name) || name.startsWith('/') || name.startsWith('./') || name.startsWith('../');
}

/**
 * Splits `[host/][namespace/]model[:tag]` the way Ollama does: parts left out take the
 * defaults, and only the last path part may carry a tag (a host may carry a port).
 */
export function parseModelName(input: string): ModelName | undefined {
  const trimmed = input.trim();
  if (trimmed === '' || trimmed.includes('@') || trimmed.includes('\\')) return undefined;
  const parts = trimmed.split('/');
  if (parts.length > 3 || parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  const last = parts.pop() as string;
  const colon = last.lastIndexOf(':');
  const model = colon < 0 ? last : last.slice(0, colon);
  const tag = colon < 0 ? NAME_DEFAULTS.tag : last.slice(colon + 1);
  const namespace = parts.pop() ?? NAME_DEFAULTS.namespace;
  const host = parts.pop() ?? NAME_DEFAULTS.host;
  const part = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
  if (!part.test(model) || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(tag) || !part.test(namespace) || !/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(host)) {
    return undefined;
  }
  return { host, namespace, model, tag };
}

/** The name as Ollama lists it: the default host and namespace left out. */
export function displayName(n: ModelName): string {
  if (n.host === NAME_DEFAULTS.host && n.namespace === NAME_DEFAULTS.namespace) return `${n.model}:${n.tag}`;
  if (n.host === NAME_DEFAULTS.host) return `${n.namespace}/${n.model}:${n.tag}`;
  return `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
}

/** The short name for `ollama pull` in messages: `:latest` left out, as people type it. */
function pullName(n: ModelName): string {
  return displayName(n).replace(/:latest$/, '');
}

/** Ollama lower-cases the manifest path (`Name.Filepath`), so names match case-insensitively. */
function manifestPath(root: string, n: ModelName): string {
  return join(root, 'manifests', n.host.toLowerCase(), n.namespace.toLowerCase(), n.model.toLowerCase(), n.tag.toLowerCase());
}

/** `sha256:<hex>` → `<root>/blobs/sha256-<hex>`; undefined for anything else. */
export function blobPath(root: string, digest: string): string | undefined {
  const m = /^sha256[:-]([0-9a-f]{64})$/.exec(digest);
  return m === null ? undefined : join(root, 'blobs', `sha256-${m[1]}`);
}

function unsupported(name: string, why: string, hint?: string): ProviderError {
  return new ProviderError({
    provider: EMBEDDED,
    code: 'unsupported',
    model: name,
    message: `The embedded engine cannot run ${name}: ${why}.`,
    ...(hint === undefined ? {} : { hint }),
  });
}

function notFound(name: string, message: string): ProviderError {
  return new ProviderError({ provider: EMBEDDED, code: 'model_not_found', model: name, message });
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

function isLayer(value: unknown): value is Layer {
  const l = value as Partial<Layer> | null;
  return typeof l === 'object' && l !== null && typeof l.mediaType === 'string' && typeof l.digest === 'string';
}

/** Reads and checks a manifest file; a file that is not one is reported as damaged. */
function readManifest(path: string, name: string): { layers: Layer[]; config?: Layer } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readText(path));
  } catch (error) {
    throw new ProviderError({
      provider: EMBEDDED,
      code: 'model_not_found',
      model: name,
      message: `The manifest of ${name} at ${path} is not valid JSON; run \`ollama pull ${name}\` to fetch it again.`,
      cause: error,
    });
  }
  const m = parsed as { layers?: unknown; config?: unknown };
  if (typeof m !== 'object' || m === null || !Array.isArray(m.layers) || !m.layers.every(isLayer)) {
    throw notFound(name, `The manifest of ${name} at ${path} has no list of layers; run \`ollama pull ${name}\` to fetch it again.`);
  }
  return { layers: m.layers, ...(isLayer(m.config) ? { config: m.config } : {}) };
}

function readConfigBlob(root: string, config: Layer | undefined): ModelConfigBlob {
  const path = config === undefined ? undefined : blobPath(root, config.digest);
  if (path === undefined || !existsSync(path)) return {};
  try {
    const value = JSON.parse(readText(path)) as unknown;
    return typeof value === 'object' && value !== null ? (value as ModelConfigBlob) : {};
  } catch {
    return {};
  }
}

/** A text layer's content; a missing text blob is the same damage as a missing model blob. */
function layerText(root: string, layer: Layer, name: string, pull: string): string {
  const path = blobPath(root, layer.digest);
  if (path === undefined || !existsSync(path)) {
    throw notFound(name, `The ${layer.mediaType.replace(/^.*\./, '')} layer of ${name} (${layer.digest}) is missing from ${join(root, 'blobs')}; run \`ollama pull ${pull}\` to fetch it again.`);
  }
  return readText(path);
}

function paramsOf(text: string, name: string): GenerationOptions {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as GenerationOptions;
  } catch {
    // fall through to the error below
  }
  throw new ProviderError({ provider: EMBEDDED, code: 'bad_request', model: name, message: `The parameters layer of ${name} is not a JSON object; recreate the model with \`ollama create\`.` });
}

function messagesOf(text: string): ChatMessage[] {
  try {
    const value = JSON.parse(text) as unknown;
    if (!Array.isArray(value)) return [];
    return value.flatMap((m: { role?: unknown; content?: unknown }) =>
      (m.role === 'system' || m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string' ? [{ role: m.role, content: m.content }] : [],
    );
  } catch {
    return [];
  }
}

/**
 * Resolves one manifest to a loadable model, or throws: `unsupported` naming why the engine
 * cannot run it, `model_not_found` when a blob is missing.
 */
function fromManifest(root: string, n: ModelName, path: string): ResolvedModel {
  const name = displayName(n);
  const pull = pullName(n);
  const manifest = readManifest(path, name);
  const config = readConfigBlob(root, manifest.config);
  const types = manifest.layers.map((l) => l.mediaType);
  if (config.remote_host !== undefined && config.remote_host !== '') {
    throw unsupported(name, `it is a cloud model that runs at ${config.remote_host}${config.remote_model ? ` as ${config.remote_model}` : ''}, and its weights are not on this machine`, 'Start `ollama serve` to use it.');
  }
  if (types.includes(MEDIA.tensor)) {
    throw unsupported(name, 'it is stored as separate safetensors tensors (an image-generation or MLX model), not as one GGUF file');
  }
  const models = manifest.layers.filter((l) => l.mediaType === MEDIA.model);
  const model = models[0];
  if (model === undefined) {
    const others = [...new Set(types)].join(', ') || 'no layers at all';
    throw unsupported(name, `its manifest has no GGUF model layer (${MEDIA.model}); it has ${others}`);
  }
  if (models.length > 1) throw unsupported(name, 'its manifest has more than one model layer (a model split by Ollama), which the engine cannot load as one file');
  if (types.includes(MEDIA.projector)) {
    throw unsupported(name, 'it is a multimodal model whose vision projector is a separate Ollama layer; llama.cpp cannot load Ollama-converted vision models', 'Start `ollama serve` to use it.');
  }
  if (types.includes(MEDIA.adapter)) throw unsupported(name, 'it applies a LoRA adapter layer, which the embedded engine does not load', 'Start `ollama serve` to use it.');
  const modelPath = blobPath(root, model.digest);
  if (modelPath === undefined) throw notFound(name, `The model layer of ${name} has a digest Ollama does not write (${model.digest}); run \`ollama pull ${pull}\` to fetch it again.`);
  if (!existsSync(modelPath)) {
    throw notFound(name, `The model file of ${name} (${model.digest}) is missing from ${join(root, 'blobs')}; run \`ollama pull ${pull}\` to fetch it again.`);
  }
  const resolved: ResolvedModel = { name, modelPath, source: 'store', params: {}, messages: [], digest: model.digest, sizeBytes: statSync(modelPath).size };
  for (const layer of manifest.layers) {
    if (layer.mediaType === MEDIA.template) resolved.template = layerText(root, layer, name, pull);
    else if (layer.mediaType === MEDIA.system) resolved.system = layerText(root, layer, name, pull);
    else if (layer.mediaType === MEDIA.params) resolved.params = paramsOf(layerText(root, layer, name, pull), name);
    else if (layer.mediaType === MEDIA.messages) resolved.messages = messagesOf(layerText(root, layer, name, pull));
  }
  // Without a template layer Ollama sends the prompt as is, unless a built-in renderer formats it
  // (then the GGUF's own chat template is the closest match).
  if (resolved.template === undefined && (config.renderer === undefined || config.renderer === '')) resolved.template = OLLAMA_DEFAULT_TEMPLATE;
  try {
    resolved.modifiedAt = statSync(path).mtime.toISOString();
  } catch {
    // the manifest was just read; a race with `ollama rm` only loses the date
  }
  if (config.model_family !== undefined && config.model_family !== '') resolved.family = config.model_family;
  if (config.file_type !== undefined && config.file_type !== '') resolved.quantization = config.file_type;
  return resolved;
}

/** Media types the engine does not know; the caller logs them (a newer Ollama may have added some). */
export function unknownMediaTypes(root: string, name: string): string[] {
  const n = parseModelName(name);
  if (n === undefined) return [];
  const path = manifestPath(root, n);
  if (!existsSync(path)) return [];
  try {
    const known = new Set<string>(Object.values(MEDIA));
    return readManifest(path, name).layers.map((l) => l.mediaType).filter((t) => !known.has(t) && !HARMLESS.has(t));
  } catch {
    return [];
  }
}

/**
 * The model called `name` in the store at `root`, or the GGUF file `name` points at. Throws
 * `model_not_found` (saying `ollama pull`) for a name the store lacks, `unsupported` for a model
 * the engine cannot run, `bad_request` for a name Ollama would not accept either.
 */
export function resolveModel(root: string, name: string): ResolvedModel {
  if (isGgufPath(name)) {
    const path = resolve(name);
    let size: number;
    try {
      const st = statSync(path);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch (error) {
      throw new ProviderError({ provider: EMBEDDED, code: 'model_not_found', model: name, message: `There is no GGUF file at ${path}; check the path.`, cause: error });
    }
    return { name: path, modelPath: path, source: 'file', params: {}, messages: [], sizeBytes: size };
  }
  const n = parseModelName(name);
  if (n === undefined) {
    throw new ProviderError({
      provider: EMBEDDED,
      code: 'bad_request',
      model: name,
      message: `"${name}" is not a model name Ollama accepts; write it as name, name:tag or namespace/name:tag, or give the path of a .gguf file.`,
    });
  }
  const path = manifestPath(root, n);
  if (!existsSync(path)) {
    const where = existsSync(join(root, 'manifests')) ? `Ollama's model store at ${root}` : `${root}, which holds no Ollama model store (set provider.embedded.models_dir or OLLAMA_MODELS)`;
    throw notFound(displayName(n), `The model ${displayName(n)} is not in ${where}; run \`ollama pull ${pullName(n)}\` to get it.`);
  }
  return fromManifest(root, n, path);
}

function dirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch {
    return [];
  }
}

function files(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Every manifest in the store, resolved or with the reason it cannot run, sorted by name. */
export function listStore(root: string): StoreEntry[] {
  const base = join(root, 'manifests');
  const out: StoreEntry[] = [];
  for (const host of dirs(base)) {
    for (const namespace of dirs(join(base, host))) {
      for (const model of dirs(join(base, host, namespace))) {
        for (const tag of files(join(base, host, namespace, model))) {
          const n: ModelName = { host, namespace, model, tag };
          const name = displayName(n);
          const path = join(base, host, namespace, model, tag);
          try {
            out.push({ name, ok: true, model: fromManifest(root, n, path) });
          } catch (error) {
            if (!(error instanceof ProviderError)) throw error;
            const entry: StoreEntry = { name, ok: false, error };
            const config = remoteOf(root, path, name);
            if (config.remote_host) entry.remoteHost = config.remote_host;
            if (config.remote_model) entry.remoteModel = config.remote_model;
            try {
              entry.modifiedAt = statSync(path).mtime.toISOString();
            } catch {
              // listed without a date
            }
            out.push(entry);
          }
        }
      }
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function remoteOf(root: string, path: string, name: string): ModelConfigBlob {
  try {
    return readConfigBlob(root, readManifest(path, name).config);
  } catch {
    return {};
  }
}
