/**
 * `omega memory export` / `omega memory import`: conversations as JSON lines (one conversation
 * with all its messages per line), so they move between SQLite and PostgreSQL, or between
 * machines. Import checks every line before it stores anything, stores each conversation in one
 * transaction, and leaves an id that already exists alone, so running it twice changes nothing.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { once } from 'node:events';
import { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { MemoryConfig } from '../../config/types.js';
import { openMemoryStore } from '../../gateway/memory/open.js';
import type { ConversationExport, ExportedMessage, MemoryStore } from '../../gateway/memory/store.js';
import type { CliContext } from '../context.js';
import { readAll } from '../stdin.js';

interface StoreOptions {
  sqlite?: string;
  postgres?: string;
}

/** `[memory]` with the command line's `--sqlite <file>` or `--postgres <url>` in place of the configured backend. */
function memoryConfigOf(ctx: CliContext, options: StoreOptions): MemoryConfig {
  const base = ctx.config.memory;
  if (options.sqlite !== undefined && options.postgres !== undefined) {
    throw new UsageError('Give either --sqlite or --postgres, not both.');
  }
  if (options.sqlite !== undefined) return { ...base, backend: 'sqlite', dbPath: resolve(ctx.io.cwd, options.sqlite) };
  if (options.postgres !== undefined) {
    if (!/^postgres(ql)?:\/\//i.test(options.postgres)) throw new UsageError('--postgres takes a postgres:// URL; the password is better given in PGPASSWORD.');
    return { ...base, backend: 'postgres', url: options.postgres };
  }
  return base;
}

async function withStore<T>(ctx: CliContext, options: StoreOptions, fn: (store: MemoryStore) => Promise<T>): Promise<T> {
  const store = await openMemoryStore(memoryConfigOf(ctx, options), { logger: ctx.logger });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

function isMessage(m: unknown): m is ExportedMessage {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  return (
    typeof x.role === 'string' &&
    ROLES.has(x.role) &&
    typeof x.content === 'string' &&
    typeof x.createdAt === 'string' &&
    !Number.isNaN(Date.parse(x.createdAt)) &&
    typeof x.interrupted === 'boolean'
  );
}

/** One parsed line, or the reason it is not a conversation export. */
export function parseExportLine(line: string): ConversationExport | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const c = value as Record<string, unknown>;
  for (const key of ['id', 'channel', 'createdAt', 'updatedAt'] as const) {
    if (typeof c[key] !== 'string' || c[key] === '') return `"${key}" is missing or not a string`;
  }
  if (!Array.isArray(c.messages)) return '"messages" is missing or not an array';
  const bad = c.messages.findIndex((m) => !isMessage(m));
  if (bad >= 0) return `message ${bad + 1} lacks a valid role, content, createdAt or interrupted`;
  return value as ConversationExport;
}

/** Builds `omega memory` with its `export` and `import` subcommands. */
export function memoryCommand(ctx: CliContext): Command {
  const memory = new Command('memory').description('move conversations between memory backends (JSON lines)');
  memory
    .command('export')
    .description('write conversations as JSON lines, one conversation per line')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('-c, --conversation <id...>', 'only these conversations')
    .option('--sqlite <file>', 'read this SQLite file instead of the configured memory')
    .option('--postgres <url>', 'read this PostgreSQL database instead of the configured memory')
    .action(async (options: StoreOptions & { output?: string; conversation?: string[] }) => {
      await withStore(ctx, options, async (store) => {
        const ids = options.conversation ?? (await store.conversations()).map((c) => c.id);
        const out = options.output === undefined ? ctx.io.stdout : createWriteStream(resolve(ctx.io.cwd, options.output), { mode: 0o600 });
        let conversations = 0;
        let messages = 0;
        for (const id of ids) {
          const conversation = await store.exportConversation(id);
          if (conversation === undefined) {
            ctx.warn(`there is no conversation ${id}; nothing exported for it.`);
            continue;
          }
          if (!out.write(`${JSON.stringify(conversation)}\n`)) await once(out as NodeJS.WritableStream, 'drain');
          conversations += 1;
          messages += conversation.messages.length;
        }
        if (options.output !== undefined) {
          const file = out as ReturnType<typeof createWriteStream>;
          await new Promise<void>((done, fail) => file.end((error?: Error | null) => (error ? fail(error) : done())));
        }
        ctx.io.stderr.write(`Exported ${conversations} conversation(s), ${messages} message(s) from ${store.backend} memory at ${store.location}.\n`);
      });
    });
  memory
    .command('import')
    .description('store conversations from JSON lines (a file, or stdin); existing ids are left alone')
    .argument('[file]', 'the export to read; stdin when omitted or -')
    .option('--sqlite <file>', 'write into this SQLite file instead of the configured memory')
    .option('--postgres <url>', 'write into this PostgreSQL database instead of the configured memory')
    .action(async (file: string | undefined, options: StoreOptions) => {
      const source = file === undefined || file === '-' ? 'stdin' : resolve(ctx.io.cwd, file);
      let text: string;
      try {
        text = source === 'stdin' ? await readAll(ctx.io.stdin) : readFileSync(source, 'utf8');
      } catch (error) {
        throw new UsageError(`Cannot read ${source} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path.`);
      }
      // Every line is checked before anything is stored, so a bad file stores nothing.
      const conversations: ConversationExport[] = [];
      for (const [i, line] of text.split('\n').entries()) {
        if (line.trim() === '') continue;
        const parsed = parseExportLine(line);
        if (typeof parsed === 'string') {
          throw new UsageError(`Line ${i + 1} of ${source} is not a conversation export: ${parsed}; nothing was imported. Fix or remove that line.`);
        }
        conversations.push(parsed);
      }
      await withStore(ctx, options, async (store) => {
        let imported = 0;
        let messages = 0;
        const existing: string[] = [];
        for (const c of conversations) {
          if ((await store.importConversation(c)) === 'imported') {
            imported += 1;
            messages += c.messages.length;
          } else existing.push(c.id);
        }
        const skipped = existing.length === 0 ? '' : `; ${existing.length} already present, left alone (${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', ...' : ''})`;
        ctx.io.stderr.write(`Imported ${imported} conversation(s), ${messages} message(s) into ${store.backend} memory at ${store.location}${skipped}.\n`);
      });
    });
  return memory;
}
