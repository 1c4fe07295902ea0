/**
 * Reading a prompt from standard input.
 */
import type { CliIO } from './context.js';

/** Everything on `stdin` until end of file, as UTF-8. */
export async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The prompt of `omega ask`: the arguments joined by spaces; stdin alone when there are
 * none or the only one is `-`; and when both are given (`git diff | omega ask "review
 * this"`), the arguments, a blank line, then stdin.
 */
export async function resolvePrompt(words: readonly string[], io: CliIO): Promise<string> {
  const fromStdinOnly = words.length === 0 || (words.length === 1 && words[0] === '-');
  if (fromStdinOnly) {
    if (io.stdin.isTTY === true) io.stderr.write('Reading the prompt from stdin; finish with Ctrl-D.\n');
    return trimTrailingNewlines(await readAll(io.stdin));
  }
  const prompt = words.join(' ');
  if (!io.stdinPiped) return prompt;
  const piped = trimTrailingNewlines(await readAll(io.stdin));
  return piped.trim() === '' ? prompt : `${prompt}\n\n${piped}`;
}

function trimTrailingNewlines(text: string): string {
  return text.replace(/[\r\n]+$/, '');
}
