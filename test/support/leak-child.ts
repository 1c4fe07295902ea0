/**
 * Run as a child process by the no-leaked-handles test: uses the provider against the fake
 * Ollama at argv[2], calls close(), and must then exit on its own (no process.exit here).
 */
import { OllamaProvider } from '../../src/providers/ollama/index.js';

const url = process.argv[2] as string;
const p = new OllamaProvider({ baseUrl: url, env: {}, timeouts: { connectMs: 2000, loadMs: 60_000, idleMs: 60_000 } });

const available = await p.isAvailable();
const models = await p.listModels();
const answer = await p.chat({ messages: [{ role: 'user', content: 'hi' }] });
for await (const chunk of p.chatStream({ messages: [{ role: 'user', content: 'hi' }] })) {
  if (chunk.content !== '') break;
}
// A stream the server never finishes, still open when close() is called.
const hanging = p.chatStream({ messages: [{ role: 'user', content: 'hang' }] })[Symbol.asyncIterator]();
await hanging.next();
const pending = hanging.next().then(
  () => 'resolved',
  (e: Error) => `rejected: ${e.message}`,
);
await p.close();
process.stdout.write(`${JSON.stringify({ available, models: models.length, answer: answer.message.content, pending: await pending })}\n`);
