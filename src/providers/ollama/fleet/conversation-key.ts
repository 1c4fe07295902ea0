/**
 * A sticky key for requests that name no conversation. Clients such as the `ollama` CLI, Open
 * WebUI, the OpenAI/Anthropic SDKs and editors resend the whole conversation every turn without
 * an id; what stays the same from turn to turn is the model and the conversation's opening (the
 * system prompt(s) and the first user message), so that is what the key is derived from. Keeping
 * those turns on one host keeps its KV cache warm instead of re-processing the prompt elsewhere.
 */
import { createHash } from 'node:crypto';
import { modelKey } from './router.js';

/** Characters of one message's text that go into the key; long openings differ early or in length. */
const MESSAGE_CHARS = 4096;
/** Characters of all the opening's text together, so a request with many system messages stays cheap. */
const TOTAL_CHARS = 16_384;
/** Messages looked at before giving up on finding the first user message. */
const MAX_MESSAGES = 64;
/** Images of one message whose size goes into the key. */
const MAX_IMAGES = 8;

/** The text of a message's content: a string, or the text parts of a content-part list. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content.slice(0, MAX_MESSAGES)) {
    if (typeof part === 'string') out += part;
    else if (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string') out += (part as { text: string }).text;
    if (out.length >= MESSAGE_CHARS) break;
  }
  return out;
}

/**
 * The sticky key of a conversation: the same for every turn of one conversation (turn n resends
 * turns 1..n-1 first), different for conversations whose model or opening differs. Undefined when
 * there is no user message to key on. The work is bounded whatever the messages' size: at most
 * a few KiB of each opening message's text are hashed, plus its full length (so two openings that
 * share a long prefix still differ) and the sizes of its images (never their bytes).
 *
 * SHA-1 from node:crypto: native and so faster over a few KiB than a hash written in JS, with no
 * dependency; it is not used for security, only so that distinct openings do not share a host
 * by accident (64 bits of it leave collisions among the fleet's 10 000 sticky entries negligible).
 */
export function conversationKey(model: string, messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  const hash = createHash('sha1');
  hash.update(modelKey(model));
  let budget = TOTAL_CHARS;
  const limit = Math.min(messages.length, MAX_MESSAGES);
  for (let i = 0; i < limit; i++) {
    const m: unknown = messages[i];
    if (typeof m !== 'object' || m === null) continue;
    const role = (m as { role?: unknown }).role;
    if (role !== 'system' && role !== 'user') continue;
    const content = (m as { content?: unknown }).content;
    const text = textOf(content);
    const taken = text.slice(0, Math.max(0, Math.min(MESSAGE_CHARS, budget)));
    budget -= taken.length;
    // Separators with lengths keep ("ab", "c") apart from ("a", "bc").
    hash.update(`\u0000${role}\u0000${typeof content === 'string' ? content.length : text.length}\u0000${taken.length}\u0000`);
    hash.update(taken);
    const images = (m as { images?: unknown }).images;
    if (Array.isArray(images)) {
      hash.update(`\u0000images:${images.length}`);
      for (const img of images.slice(0, MAX_IMAGES)) hash.update(`:${typeof img === 'string' ? img.length : 0}`);
    }
    if (role === 'user') return `auto:${hash.digest('hex').slice(0, 16)}`;
  }
  return undefined;
}
