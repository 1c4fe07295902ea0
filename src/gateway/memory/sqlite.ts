/**
 * Conversation memory and the audit trail, in one SQLite file (better-sqlite3).
 *
 * Every write is one transaction, so a crash, a full disk or a lock never leaves half an
 * exchange behind; every SQLite failure becomes a {@link MemoryError} naming the file.
 */
import { accessSync, constants as fsConstants, existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import { MemoryError } from '../../core/errors.js';
import type { MemoryErrorCode } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import type { Logger } from '../../core/logger.js';
import type { ChatMessage, Role, ToolCall } from '../../core/types.js';
import type { TokenCalibration } from '../../core/context-fit.js';
import type { GatewayMetadata } from '../types.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.js';
import type { Migration } from './migrations/index.js';
import { nonNegativeInt, titleOf, toExported } from './store.js';
import type {
  AuditRecord,
  AuditRecordInput,
  ConversationExport,
  ConversationSummary,
  ExchangeInput,
  HistoryEntry,
  ImportOutcome,
  MemoryHealth,
  MemoryStore,
  StoredMessage,
  TokenCount,
  TokenSource,
} from './store.js';

/** How long a write waits for another process's lock before failing with `locked`. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Options of {@link SqliteMemory.open}. */
export interface SqliteMemoryOptions {
  logger?: Logger;
  /** Milliseconds a statement waits on another connection's lock; 5000 by default. */
  busyTimeoutMs?: number;
  /** Open without write access: the file must exist and be fully migrated. */
  readonly?: boolean;
  /**
   * Run SQLite's `quick_check` at open so damage shows up now rather than mid-conversation
   * (true by default; it reads the whole file, a few milliseconds for a typical history).
   */
  verify?: boolean;
}

export type {
  AuditRecord,
  AuditRecordInput,
  ConversationSummary,
  ExchangeInput,
  HistoryEntry,
  StoredMessage,
  TokenCount,
  TokenSource,
} from './store.js';

interface MessageRow {
  id: number;
  conversation_id: string;
  role: Role;
  content: string;
  thinking: string | null;
  tool_calls: string | null;
  sender: string | null;
  provider: string | null;
  model: string | null;
  created_at: string;
  interrupted: number;
  metadata: string | null;
  tokens: number | null;
  token_source: TokenSource | null;
}

interface CalibrationRow {
  model: string;
  chars: number;
  tokens: number;
  samples: number;
}

interface AuditRow {
  id: number;
  ts: string;
  channel: string;
  conversation_id: string;
  sender: string;
  provider: string;
  model: string | null;
  outcome: string;
  error_code: string | null;
  error_message: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  duration_ms: number;
  /** Absent in rows stored before schema version 3. */
  host: string | null;
}

interface ConversationRow {
  id: string;
  channel: string;
  title: string | null;
  created_at: string;
  updated_at: string;
  message_count: number;
}

/** SQLite's in-memory database name; useful for tests and `memory = false`-like runs. */
export const IN_MEMORY = ':memory:';

/**
 * Turns any failure of the database (or of creating its directory) into a {@link MemoryError}
 * that names the file and says what to do.
 */
export function toMemoryError(error: unknown, file: string): MemoryError {
  if (error instanceof MemoryError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
  const detail = error instanceof Error ? error.message : String(error);
  const make = (kind: MemoryErrorCode, message: string, hint?: string): MemoryError =>
    new MemoryError({ code: kind, file, message, cause: error, ...(hint === undefined ? {} : { hint }) });

  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return make(
      'locked',
      `The memory database ${file} is locked by another process; retry once the other Omega session has finished writing.`,
      'Raise the busy timeout if this happens often.',
    );
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return make(
      'readonly',
      `The memory database ${file} is read-only; make the file and its directory writable for this user, or set [memory] db_path to a writable location.`,
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return make(
      'corrupt',
      `The memory database ${file} is corrupt or not an SQLite database; move it aside (Omega then starts a new one) or restore it from a backup.`,
    );
  }
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') {
    return make('io', `The disk holding the memory database ${file} is full; free some space and retry.`);
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'ENOENT' || code === 'ENOTDIR') {
    return make(
      'io',
      `The memory database ${file} cannot be opened; check that its directory exists and is accessible (${detail}).`,
    );
  }
  return make('io', `The memory database ${file} failed: ${detail}.`);
}

/**
 * A new database file needs a writable directory (SQLite also writes its journal there). Without
 * this check SQLite's answer is a bare "cannot open", which reads like a missing directory.
 */
function checkDirectoryWritable(file: string): void {
  const dir = dirname(file);
  try {
    accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error;
    throw new MemoryError({
      code: 'readonly',
      file,
      message: `The memory database ${file} cannot be created because its directory ${dir} is read-only for this user; make the directory writable, or set [memory] db_path to a writable location.`,
      cause: error,
    });
  }
}

function schemaError(file: string, message: string, cause?: unknown): MemoryError {
  return new MemoryError({ code: 'schema', file, message, cause });
}

/** True for errors that say something about the database file rather than about one migration's SQL. */
function isEnvironmentError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (
    typeof code === 'string' &&
    /^(SQLITE_(BUSY|LOCKED|READONLY|CORRUPT|NOTADB|FULL|CANTOPEN|IOERR)|EACCES|EPERM|EROFS|ENOSPC)/.test(code)
  );
}

function readVersion(db: SqliteDatabase): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version').get() as { v: number };
  return row.v;
}

/**
 * Brings `db` to the newest schema of `migrations`, all pending steps in one IMMEDIATE
 * transaction: a failure leaves the database exactly as it was, and two processes opening a
 * new file at once cannot both apply a step.
 */
export function migrate(
  db: SqliteDatabase,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration "${m.name}" has version ${m.version}, expected ${i + 1}.`);
  });
  const latest = migrations.length;
  const check = (current: number): void => {
    if (current > latest) {
      throw schemaError(
        file,
        `The memory database ${file} has schema version ${current}, newer than this Omega supports (${latest}); upgrade Omega or set [memory] db_path to another file.`,
      );
    }
  };
  // A plain read first, so the common case (already current) never takes the write lock.
  const seen = readVersion(db);
  check(seen);
  if (seen === latest) return { from: seen, to: seen };

  const apply = db.transaction((): { from: number; to: number } => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    const current = readVersion(db);
    check(current);
    const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations) {
      if (m.version <= current) continue;
      try {
        db.exec(m.sql);
      } catch (error) {
        if (isEnvironmentError(error)) throw error;
        throw schemaError(
          file,
          `Upgrading the memory database ${file} to schema version ${m.version} (${m.name}) failed: ${(error as Error).message}.`,
          error,
        );
      }
      record.run(m.version, m.name, new Date().toISOString());
    }
    return { from: current, to: latest };
  });
  return apply.immediate();
}

function optional<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

function parseJson<T>(text: string | null): T | undefined {
  if (text === null) return undefined;
  return JSON.parse(text) as T;
}

function toStored(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    id: row.id,
    conversationId: row.conversation_id,
    role: row.role,
    content: row.content,
    createdAt: row.created_at,
    interrupted: row.interrupted === 1,
  };
  if (row.thinking !== null) message.thinking = row.thinking;
  const toolCalls = parseJson<ToolCall[]>(row.tool_calls);
  if (toolCalls !== undefined) message.toolCalls = toolCalls;
  if (row.sender !== null) message.sender = row.sender;
  if (row.provider !== null) message.provider = row.provider;
  if (row.model !== null) message.model = row.model;
  const metadata = parseJson<GatewayMetadata>(row.metadata);
  if (metadata !== undefined) message.metadata = metadata;
  const tokens = toTokenCount(row);
  if (tokens !== undefined) message.tokens = tokens;
  return message;
}

function toTokenCount(row: MessageRow): TokenCount | undefined {
  if (row.tokens === null || row.token_source === null) return undefined;
  return { tokens: row.tokens, source: row.token_source };
}

function toEntry(row: MessageRow): HistoryEntry {
  const entry: HistoryEntry = { message: toChat(row) };
  const tokens = toTokenCount(row);
  if (tokens !== undefined) entry.tokens = tokens;
  if (row.role === 'assistant') {
    const metadata = parseJson<GatewayMetadata>(row.metadata);
    if (metadata !== undefined) entry.metadata = metadata;
  }
  return entry;
}

function toChat(row: MessageRow): ChatMessage {
  const message: ChatMessage = { role: row.role, content: row.content };
  if (row.thinking !== null) message.thinking = row.thinking;
  const toolCalls = parseJson<ToolCall[]>(row.tool_calls);
  if (toolCalls !== undefined) message.toolCalls = toolCalls;
  return message;
}

function toAudit(row: AuditRow): AuditRecord {
  const record: AuditRecord = {
    id: row.id,
    ts: row.ts,
    channel: row.channel,
    conversationId: row.conversation_id,
    sender: row.sender,
    provider: row.provider,
    outcome: row.outcome,
    durationMs: row.duration_ms,
  };
  const model = optional(row.model);
  if (model !== undefined) record.model = model;
  const errorCode = optional(row.error_code);
  if (errorCode !== undefined) record.errorCode = errorCode;
  const errorMessage = optional(row.error_message);
  if (errorMessage !== undefined) record.errorMessage = errorMessage;
  const promptTokens = optional(row.prompt_tokens);
  if (promptTokens !== undefined) record.promptTokens = promptTokens;
  const completionTokens = optional(row.completion_tokens);
  if (completionTokens !== undefined) record.completionTokens = completionTokens;
  const host = optional(row.host);
  if (host !== undefined) record.host = host;
  return record;
}

/** Conversation memory and audit trail in one SQLite file. Synchronous, like better-sqlite3. */
export class SqliteMemory {
  /** Absolute path of the database file (or `:memory:`). */
  readonly file: string;
  /** Whether the file was opened without write access. */
  readonly readonly: boolean;
  private readonly db: SqliteDatabase;
  private readonly logger: Logger;
  private readonly stmts: {
    history: Statement<[string, number], MessageRow>;
    messages: Statement<[string], MessageRow>;
    upsertConversation: Statement<[string, string, string | null, string, string]>;
    insertMessage: Statement<unknown[]>;
    insertAudit: Statement<unknown[]>;
    auditAll: Statement<[number], AuditRow>;
    auditOf: Statement<[string, number], AuditRow>;
    deleteMessages: Statement<[string]>;
    deleteConversation: Statement<[string]>;
    conversations: Statement<[], ConversationRow>;
    calibrations: Statement<[], CalibrationRow>;
    saveCalibration: Statement<[string, number, number, number, string]>;
  };
  private readonly saveTx: (x: ExchangeInput) => void;

  private constructor(db: SqliteDatabase, file: string, readonly: boolean, logger: Logger) {
    this.db = db;
    this.file = file;
    this.readonly = readonly;
    this.logger = logger;
    this.stmts = {
      history: db.prepare(
        'SELECT * FROM (SELECT * FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id ASC',
      ),
      messages: db.prepare('SELECT * FROM messages WHERE conversation_id = ? ORDER BY id ASC'),
      upsertConversation: db.prepare(
        `INSERT INTO conversations (id, channel, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, title = COALESCE(conversations.title, excluded.title)`,
      ),
      insertMessage: db.prepare(
        `INSERT INTO messages (conversation_id, role, content, thinking, tool_calls, sender, provider, model, created_at, interrupted, metadata, tokens, token_source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertAudit: db.prepare(
        `INSERT INTO audit (ts, channel, conversation_id, sender, provider, model, outcome, error_code, error_message, prompt_tokens, completion_tokens, duration_ms, host)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      auditAll: db.prepare('SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id ASC'),
      auditOf: db.prepare(
        'SELECT * FROM (SELECT * FROM audit WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id ASC',
      ),
      deleteMessages: db.prepare('DELETE FROM messages WHERE conversation_id = ?'),
      deleteConversation: db.prepare('DELETE FROM conversations WHERE id = ?'),
      conversations: db.prepare(
        `SELECT c.id, c.channel, c.title, c.created_at, c.updated_at,
                (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
         FROM conversations c ORDER BY c.updated_at DESC, c.id ASC`,
      ),
      calibrations: db.prepare('SELECT model, chars, tokens, samples FROM token_calibration ORDER BY model'),
      saveCalibration: db.prepare(
        `INSERT INTO token_calibration (model, chars, tokens, samples, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(model) DO UPDATE SET chars = excluded.chars, tokens = excluded.tokens, samples = excluded.samples, updated_at = excluded.updated_at`,
      ),
    };
    const save = db.transaction((x: ExchangeInput): void => {
      const now = new Date().toISOString();
      this.stmts.upsertConversation.run(x.conversationId, x.channel, titleOf(x.user.content), now, now);
      this.insert(x.conversationId, x.user, {
        sender: x.sender,
        createdAt: now,
        interrupted: false,
        ...(x.userTokens === undefined ? {} : { tokens: x.userTokens }),
      });
      this.insert(x.conversationId, x.assistant, {
        provider: x.metadata.providerUsed,
        model: x.metadata.model,
        createdAt: new Date().toISOString(),
        interrupted: x.interrupted === true,
        metadata: x.metadata,
        ...(x.assistantTokens === undefined ? {} : { tokens: x.assistantTokens }),
      });
      if (x.audit !== undefined) this.insertAuditRow(x.audit);
    });
    // IMMEDIATE takes the write lock up front, so a second writer waits on the busy timeout
    // instead of failing on a read-to-write lock upgrade.
    this.saveTx = (x) => save.immediate(x);
  }

  /**
   * Opens (creating if needed, with its directories at mode 0700) and migrates the database
   * at `path`. A locked, read-only, corrupt or too-new file fails here with a {@link MemoryError}.
   */
  static open(path: string, opts: SqliteMemoryOptions = {}): SqliteMemory {
    const file = path === IN_MEMORY ? IN_MEMORY : resolve(path);
    const readonly = opts.readonly === true;
    const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    const logger = (opts.logger ?? silentLogger).child({ component: 'memory' });
    if (file !== IN_MEMORY) {
      if (readonly && !existsSync(file)) {
        throw new MemoryError({
          code: 'io',
          file,
          message: `The memory database ${file} does not exist; run a command that writes to memory first, or open it without readonly.`,
        });
      }
      if (!readonly) {
        try {
          mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
          // SQLite quietly falls back to read-only when it cannot write the file; fail now instead.
          if (existsSync(file)) accessSync(file, fsConstants.R_OK | fsConstants.W_OK);
          else checkDirectoryWritable(file);
        } catch (error) {
          throw toMemoryError(error, file);
        }
      }
    }
    let db: SqliteDatabase | undefined;
    try {
      db = new Database(file, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      // Reading the header here makes a file that is not a database fail at open, not later.
      db.pragma('schema_version', { simple: true });
      if (opts.verify !== false && file !== IN_MEMORY) {
        const check = db.pragma('quick_check(1)', { simple: true });
        if (check !== 'ok') {
          throw new MemoryError({
            code: 'corrupt',
            file,
            message: `The memory database ${file} is corrupt (${String(check)}); move it aside (Omega then starts a new one) or restore it from a backup.`,
          });
        }
      }
      db.pragma('foreign_keys = ON');
      if (readonly) {
        const version = readVersion(db);
        if (version !== LATEST_SCHEMA_VERSION) {
          throw schemaError(
            file,
            `The memory database ${file} has schema version ${version} but this Omega needs ${LATEST_SCHEMA_VERSION}; open it once with write access to upgrade it.`,
          );
        }
      } else {
        if (file !== IN_MEMORY) {
          const mode = db.pragma('journal_mode = WAL', { simple: true });
          if (mode !== 'wal') logger.warn({ file, mode }, 'memory database is not in WAL mode');
          db.pragma('synchronous = NORMAL');
        }
        const { from, to } = migrate(db, file);
        if (from !== to) logger.info({ file, from, to }, 'memory database migrated');
      }
      const memory = new SqliteMemory(db, file, readonly, logger);
      logger.debug({ file, readonly }, 'memory database open');
      return memory;
    } catch (error) {
      try {
        db?.close();
      } catch {
        // The open failure is what the user needs to see.
      }
      throw toMemoryError(error, file);
    }
  }

  /** The last `limit` messages of a conversation, oldest first, ready to send as history. */
  history(conversationId: string, limit: number): ChatMessage[] {
    if (!(limit > 0)) return [];
    return this.guard(() => this.stmts.history.all(conversationId, Math.floor(limit)).map(toChat));
  }

  /**
   * Like {@link history}, with each message's stored token count and, for answers, their
   * metadata: what the gateway needs to fit the history into a context window.
   */
  historyEntries(conversationId: string, limit: number): HistoryEntry[] {
    if (!(limit > 0)) return [];
    return this.guard(() => this.stmts.history.all(conversationId, Math.floor(limit)).map(toEntry));
  }

  /** The token estimator's calibration per model (`<provider>/<model>`), as last saved. */
  calibrations(): [string, TokenCalibration][] {
    return this.guard(() =>
      this.stmts.calibrations.all().map((r): [string, TokenCalibration] => [r.model, { chars: r.chars, tokens: r.tokens, samples: r.samples }]),
    );
  }

  /** Saves one model's calibration (`key` is `<provider>/<model>`), replacing the previous one. */
  saveCalibration(key: string, calibration: TokenCalibration): void {
    this.guard(() => {
      this.stmts.saveCalibration.run(key, calibration.chars, calibration.tokens, calibration.samples, new Date().toISOString());
    });
  }

  /** Every stored message of a conversation, oldest first, with its storage details. */
  messages(conversationId: string): StoredMessage[] {
    return this.guard(() => this.stmts.messages.all(conversationId).map(toStored));
  }

  /** Stores a user message and its answer (and `x.audit`) in one transaction: both or neither. */
  saveExchange(x: ExchangeInput): void {
    this.guard(() => this.saveTx(x));
  }

  /** Appends one record to the audit trail. */
  audit(record: AuditRecordInput): void {
    this.guard(() => {
      this.insertAuditRow(record);
    });
  }

  /** The most recent `limit` audit records (100 by default), oldest first. */
  listAudit(q: { conversationId?: string; limit?: number } = {}): AuditRecord[] {
    const limit = Math.max(0, Math.floor(q.limit ?? 100));
    return this.guard(() => {
      const rows =
        q.conversationId === undefined
          ? this.stmts.auditAll.all(limit)
          : this.stmts.auditOf.all(q.conversationId, limit);
      return rows.map(toAudit);
    });
  }

  /**
   * Deletes a conversation and its messages; returns how many messages went. The audit trail
   * is kept on purpose: it records what was sent where, even for forgotten conversations.
   */
  forget(conversationId: string): number {
    return this.guard(() =>
      this.db
        .transaction((): number => {
          const deleted = this.stmts.deleteMessages.run(conversationId).changes;
          this.stmts.deleteConversation.run(conversationId);
          return deleted;
        })
        .immediate(),
    );
  }

  /** Every conversation, most recently updated first. */
  conversations(): ConversationSummary[] {
    return this.guard(() =>
      this.stmts.conversations.all().map((row) => {
        const summary: ConversationSummary = {
          id: row.id,
          channel: row.channel,
          createdAt: row.created_at,
          updatedAt: row.updated_at,
          messageCount: row.message_count,
        };
        if (row.title !== null) summary.title = row.title;
        return summary;
      }),
    );
  }

  /** A conversation with every message, for `omega memory export`; undefined when there is none. */
  exportConversation(conversationId: string): ConversationExport | undefined {
    return this.guard(() => {
      const row = this.db
        .prepare('SELECT id, channel, title, created_at, updated_at FROM conversations WHERE id = ?')
        .get(conversationId) as Omit<ConversationRow, 'message_count'> | undefined;
      if (row === undefined) return undefined;
      const out: ConversationExport = {
        id: row.id,
        channel: row.channel,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        messages: this.stmts.messages.all(conversationId).map((r) => toExported(toStored(r))),
      };
      if (row.title !== null) out.title = row.title;
      return out;
    });
  }

  /**
   * Stores an exported conversation and its messages in one transaction. An id already present
   * is left alone (`exists`), so importing the same file twice changes nothing.
   */
  importConversation(c: ConversationExport): ImportOutcome {
    return this.guard(() =>
      this.db
        .transaction((): ImportOutcome => {
          const inserted = this.db
            .prepare('INSERT INTO conversations (id, channel, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING')
            .run(c.id, c.channel, c.title ?? null, c.createdAt, c.updatedAt).changes;
          if (inserted === 0) return 'exists';
          for (const m of c.messages) {
            const message: ChatMessage = { role: m.role, content: m.content };
            if (m.thinking !== undefined) message.thinking = m.thinking;
            if (m.toolCalls !== undefined) message.toolCalls = m.toolCalls;
            this.insert(c.id, message, {
              ...(m.sender === undefined ? {} : { sender: m.sender }),
              ...(m.provider === undefined ? {} : { provider: m.provider }),
              ...(m.model === undefined ? {} : { model: m.model }),
              createdAt: m.createdAt,
              interrupted: m.interrupted,
              ...(m.metadata === undefined ? {} : { metadata: m.metadata }),
              ...(m.tokens === undefined ? {} : { tokens: m.tokens }),
            });
          }
          return 'imported';
        })
        .immediate(),
    );
  }

  /** The schema version of the open database. */
  schemaVersion(): number {
    return this.guard(() => readVersion(this.db));
  }

  /** Closes the database; later calls fail with a {@link MemoryError}. Safe to call twice. */
  close(): void {
    if (!this.db.open) return;
    try {
      this.db.close();
      this.logger.debug({ file: this.file }, 'memory database closed');
    } catch (error) {
      throw toMemoryError(error, this.file);
    }
  }

  private insert(
    conversationId: string,
    message: ChatMessage,
    extra: {
      sender?: string;
      provider?: string;
      model?: string;
      createdAt: string;
      interrupted: boolean;
      metadata?: GatewayMetadata;
      tokens?: TokenCount;
    },
  ): void {
    this.stmts.insertMessage.run(
      conversationId,
      message.role,
      message.content,
      message.thinking ?? null,
      message.toolCalls === undefined || message.toolCalls.length === 0 ? null : JSON.stringify(message.toolCalls),
      extra.sender ?? null,
      extra.provider ?? null,
      extra.model ?? null,
      extra.createdAt,
      extra.interrupted ? 1 : 0,
      extra.metadata === undefined ? null : JSON.stringify(extra.metadata),
      extra.tokens === undefined ? null : nonNegativeInt(extra.tokens.tokens),
      extra.tokens === undefined ? null : extra.tokens.source,
    );
  }

  private insertAuditRow(r: AuditRecordInput): void {
    const ts = r.ts === undefined ? new Date().toISOString() : r.ts instanceof Date ? r.ts.toISOString() : r.ts;
    this.stmts.insertAudit.run(
      ts,
      r.channel,
      r.conversationId,
      r.sender,
      r.provider,
      r.model ?? null,
      r.outcome,
      r.errorCode ?? null,
      r.errorMessage ?? null,
      nonNegativeInt(r.promptTokens),
      nonNegativeInt(r.completionTokens),
      nonNegativeInt(r.durationMs) ?? 0,
      r.host ?? null,
    );
  }

  private guard<T>(fn: () => T): T {
    if (!this.db.open) {
      throw new MemoryError({
        code: 'io',
        file: this.file,
        message: `The memory database ${this.file} is already closed; open it again before using it.`,
      });
    }
    try {
      return fn();
    } catch (error) {
      throw toMemoryError(error, this.file);
    }
  }
}

/**
 * {@link SqliteMemory} behind the async {@link MemoryStore} interface the gateway uses. Every call
 * runs synchronously and returns a settled promise, so SQLite's hot path costs no more than a
 * microtask; a failure becomes a rejected promise, never a synchronous throw.
 */
export class SqliteStore implements MemoryStore {
  readonly backend = 'sqlite' as const;
  readonly location: string;
  /** The synchronous store underneath, for callers that want it (tests, tools). */
  readonly sqlite: SqliteMemory;

  constructor(sqlite: SqliteMemory) {
    this.sqlite = sqlite;
    this.location = sqlite.file;
  }

  /** Opens the file at `path` the way {@link SqliteMemory.open} does. */
  static open(path: string, opts: SqliteMemoryOptions = {}): SqliteStore {
    return new SqliteStore(SqliteMemory.open(path, opts));
  }

  history(conversationId: string, limit: number): Promise<ChatMessage[]> {
    return settle(() => this.sqlite.history(conversationId, limit));
  }

  historyEntries(conversationId: string, limit: number): Promise<HistoryEntry[]> {
    return settle(() => this.sqlite.historyEntries(conversationId, limit));
  }

  calibrations(): Promise<[string, TokenCalibration][]> {
    return settle(() => this.sqlite.calibrations());
  }

  saveCalibration(key: string, calibration: TokenCalibration): Promise<void> {
    return settle(() => this.sqlite.saveCalibration(key, calibration));
  }

  messages(conversationId: string): Promise<StoredMessage[]> {
    return settle(() => this.sqlite.messages(conversationId));
  }

  saveExchange(x: ExchangeInput): Promise<void> {
    return settle(() => this.sqlite.saveExchange(x));
  }

  audit(record: AuditRecordInput): Promise<void> {
    return settle(() => this.sqlite.audit(record));
  }

  listAudit(q: { conversationId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    return settle(() => this.sqlite.listAudit(q));
  }

  forget(conversationId: string): Promise<number> {
    return settle(() => this.sqlite.forget(conversationId));
  }

  conversations(): Promise<ConversationSummary[]> {
    return settle(() => this.sqlite.conversations());
  }

  exportConversation(conversationId: string): Promise<ConversationExport | undefined> {
    return settle(() => this.sqlite.exportConversation(conversationId));
  }

  importConversation(conversation: ConversationExport): Promise<ImportOutcome> {
    return settle(() => this.sqlite.importConversation(conversation));
  }

  schemaVersion(): Promise<number> {
    return settle(() => this.sqlite.schemaVersion());
  }

  health(): Promise<MemoryHealth> {
    const started = performance.now();
    try {
      const schemaVersion = this.sqlite.schemaVersion();
      return Promise.resolve({
        backend: 'sqlite',
        location: this.location,
        ok: true,
        schemaVersion,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      });
    } catch (error) {
      return Promise.resolve({ backend: 'sqlite', location: this.location, ok: false, error: (error as Error).message });
    }
  }

  close(): Promise<void> {
    return settle(() => this.sqlite.close());
  }
}

function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
