/**
 * The embedded engine's link to node-llama-cpp: the lazy import (so `omega --version` and
 * `import('omega')` never load the native binding), the one `Llama` instance a provider uses,
 * the GGUF facts the provider reads without loading a model, and the chat wrapper that renders
 * an Ollama legacy template.
 */
import type * as NodeLlamaCpp from 'node-llama-cpp';
import type { ChatHistoryItem, ChatWrapper, Llama } from 'node-llama-cpp';
import { ProviderError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { EMBEDDED } from './store.js';
import type { LegacyTemplate, TemplateMessage } from './template.js';
import { renderLegacy } from './template.js';

/** The node-llama-cpp module, as the dynamic import returns it. */
export type LlamaModule = typeof NodeLlamaCpp;

/** The version this provider is built and tested against (newer ones fail `npm ci` on some machines). */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';

let loading: Promise<LlamaModule> | undefined;

/**
 * Imports node-llama-cpp on first use. A missing package is `unavailable`, so a gateway falls
 * back past it like past a stopped server.
 */
export function importEngine(): Promise<LlamaModule> {
  loading ??= import('node-llama-cpp').catch((error: unknown) => {
    loading = undefined;
    throw new ProviderError({
      provider: EMBEDDED,
      code: 'unavailable',
      message: `The embedded engine needs node-llama-cpp, which could not be loaded (${(error as Error).message}); run \`npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}\`.`,
      cause: error,
    });
  });
  return loading;
}

/** Starts llama.cpp's backend: prebuilt binaries only, so nothing is built or downloaded at run time. */
export async function startLlama(mod: LlamaModule, opts: { gpu: 'auto' | false; logger: Logger }): Promise<Llama> {
  try {
    return await mod.getLlama({
      gpu: opts.gpu,
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: mod.LlamaLogLevel.warn,
      // llama.cpp's own lines go to Omega's logger, never to the terminal.
      logger: (level, message) => {
        const text = message.trim();
        if (text === '') return;
        if (level === mod.LlamaLogLevel.error || level === mod.LlamaLogLevel.fatal) opts.logger.warn({ engine: 'llama.cpp' }, text);
        else opts.logger.debug({ engine: 'llama.cpp' }, text);
      },
    });
  } catch (error) {
    throw new ProviderError({
      provider: EMBEDDED,
      code: 'unavailable',
      message: `The embedded engine could not start llama.cpp (${(error as Error).message}); reinstall node-llama-cpp@${NODE_LLAMA_CPP_VERSION} so its prebuilt binary for this platform is there.`,
      cause: error,
    });
  }
}

/** What a GGUF's header says, read without loading the weights. */
export interface GgufFacts {
  architecture?: string;
  /** `<arch>.context_length`: the trained context. */
  contextLength?: number;
  /** Whether the file carries a chat template (`tokenizer.chat_template`). */
  hasChatTemplate: boolean;
  /**
   * Set when the file mixes vision or audio tensors into the language model, as Ollama's own
   * converter writes them; upstream llama.cpp rejects such files.
   */
  multimodal?: string;
  parameterCount?: string;
}

const VOCABULARY_KEYS = ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'];

/** Reads the header of the GGUF at `path`. */
export async function ggufFacts(mod: LlamaModule, path: string): Promise<GgufFacts> {
  // The vocabulary arrays are most of a header and none of what is read here.
  const info = await mod.readGgufFileInfo(path, { readTensorInfo: false, logWarnings: false, ignoreKeys: VOCABULARY_KEYS });
  const metadata = info.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const general = metadata.general as { architecture?: string; size_label?: string } | undefined;
  const arch = general?.architecture;
  const facts: GgufFacts = { hasChatTemplate: typeof (metadata.tokenizer as { chat_template?: unknown } | undefined)?.chat_template === 'string' };
  if (arch !== undefined) {
    facts.architecture = arch;
    const own = metadata[arch];
    const ctx = own?.context_length;
    if (typeof ctx === 'number') facts.contextLength = ctx;
    for (const part of ['vision', 'audio'] as const) {
      if (typeof own?.[part] === 'object' && own[part] !== null) facts.multimodal = part;
    }
  }
  if (typeof general?.size_label === 'string') facts.parameterCount = general.size_label;
  return facts;
}

/**
 * A chat wrapper that renders an Ollama legacy template exactly as Ollama would, with the BOS
 * token in front when the model wants one and special tokens in the template read as such.
 */
export function legacyTemplateWrapper(mod: LlamaModule, template: LegacyTemplate, addBos: boolean): ChatWrapper {
  class OllamaTemplateChatWrapper extends mod.ChatWrapper {
    readonly wrapperName = 'OllamaTemplate';

    override generateContextState({ chatHistory }: { chatHistory: readonly ChatHistoryItem[] }): ReturnType<ChatWrapper['generateContextState']> {
      const messages: TemplateMessage[] = chatHistory.map((item) => {
        if (item.type === 'system') {
          return { role: 'system', content: typeof item.text === 'string' ? item.text : mod.LlamaText.fromJSON(item.text).toString() };
        }
        if (item.type === 'user') return { role: 'user', content: item.text };
        return { role: 'assistant', content: item.response.filter((r): r is string => typeof r === 'string').join('') };
      });
      // LlamaChat adds an empty model turn for the answer; the template's cut at .Response is that place.
      const last = messages[messages.length - 1];
      if (last !== undefined && last.role === 'assistant' && last.content === '') messages.pop();
      const rendered = renderLegacy(template, messages);
      return {
        contextText: mod.LlamaText([addBos ? new mod.SpecialToken('BOS') : '', new mod.SpecialTokensText(rendered)]),
        stopGenerationTriggers: [mod.LlamaText(new mod.SpecialToken('EOS')), mod.LlamaText(new mod.SpecialToken('EOT'))],
      };
    }
  }
  return new OllamaTemplateChatWrapper();
}
