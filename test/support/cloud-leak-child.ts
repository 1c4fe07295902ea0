/**
 * Run as a child process by the no-leaked-handles tests of the cloud providers: uses the
 * Anthropic provider against the fake at argv[2] and the Claude Code provider with the fake CLI
 * at argv[3], including calls that are cut off, then must exit on its own (no process.exit here).
 */
import { AnthropicProvider } from '../../src/providers/anthropic/index.js';
import { ClaudeCodeProvider } from '../../src/providers/claude-code/index.js';
import { FAKE_KEY } from './fake-anthropic.js';

const [url, command] = process.argv.slice(2) as [string, string];
const report: Record<string, unknown> = {};

const anthropic = new AnthropicProvider({ apiKey: FAKE_KEY, baseUrl: url, env: {} });
report.available = await anthropic.isAvailable();
report.answer = (await anthropic.chat({ messages: [{ role: 'user', content: 'hi' }] })).message.content;
for await (const chunk of anthropic.chatStream({ messages: [{ role: 'user', content: 'hi' }] })) {
  if (chunk.content !== '') break;
}
// A stream the server never finishes, still open when close() is called.
const hanging = anthropic.chatStream({ messages: [{ role: 'user', content: 'hang' }] })[Symbol.asyncIterator]();
await hanging.next();
const pending = hanging.next().then(
  () => 'resolved',
  (e: Error) => `rejected: ${e.message}`,
);
await anthropic.close();
report.pending = await pending;

const env = { ...process.env, FAKE_CLAUDE_MODE: 'success' };
const claude = new ClaudeCodeProvider({ command, env });
report.claudeAvailable = await claude.isAvailable();
report.claude = (await claude.complete({ systemPrompt: '', history: [], currentMessage: 'x' })).text;
// Cut off by a timeout and by an abort; the fake's grandchild ignores SIGTERM.
const hang = new ClaudeCodeProvider({ command, env: { ...env, FAKE_CLAUDE_MODE: 'hang' }, timeoutSecs: 1, killGraceMs: 500 });
report.timeout = await hang.complete({ systemPrompt: '', history: [], currentMessage: 'x' }).then(
  () => 'resolved',
  (e: { code?: string }) => e.code,
);
const controller = new AbortController();
setTimeout(() => controller.abort(), 300);
report.aborted = await hang.chat({ messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal }).then(
  () => 'resolved',
  (e: { code?: string }) => e.code,
);
process.stdout.write(`${JSON.stringify(report)}\n`);
