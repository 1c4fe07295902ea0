/**
 * Conversation memory and the audit trail in PostgreSQL (the `pg` client), so several Omega
 * instances share one history. Same semantics as the SQLite store: an exchange is one atomic
 * statement, interrupted answers are kept, and writers to one conversation queue on its row
 * lock, which hands out the per-conversation sequence that orders its messages.
 *
 * `pg` was chosen over `postgres` (porsager) by measurement: the same one-statement exchange
 * ran at the same rate with both (within run-to-run noise, at concurrency 1 and 32), and `pg`'s
 * pool gives explicit control over discarding broken connections, which a database restart needs.
 *
 * The password never leaves this module: locations are printed without it, and every message
 * is passed through {@link redactSecrets} with it.
 */
import pg from 'pg';
import type { PoolClient, PoolConfig, QueryResultRow } from 'pg';
import { MemoryError, redactSecrets } from '../../core/errors.js';
import type { MemoryErrorCode } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import type { Logger } from '../../core/logger.js';
import type { TokenCalibration } from '../../core/context-fit.js';
import type { ChatMessage, Role, ToolCall } from '../../core/types.js';
import type { GatewayMetadata } from '../types.js';
import type { Migration } from './migrations/index.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations/index.js';
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

/** Connections per instance when `[memory] pool_size` is unset. */
export const DEFAULT_POOL_SIZE = 10;
/** Longest a single memory statement may run when `[memory] statement_timeout` is unset. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;
/** How long opening a connection may take before the database counts as unreachable. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** The advisory lock key that serializes migrations across instances ("omega" in ASCII). */
export const MIGRATION_LOCK_KEY = 478_560_413_537;

/** Options of {@link PostgresMemory.open}. */
export interface PostgresMemoryOptions {
  /** `postgres://user:password@host:port/database`; without it the standard PG* env variables apply. */
  url?: string;
  /** Maximum connections of this instance's pool (`poolSize`, `[memory] pool_size`). */
  poolSize?: number;
  /** Milliseconds after which the server cancels a statement (`statementTimeoutMs`, `[memory] statement_timeout`); 0 for none. */
  statementTimeoutMs?: number;
  /** Milliseconds to wait for a new connection. */
  connectTimeoutMs?: number;
  /** Environment for PG* variables; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Migrations to apply; the released list by default (tests pass longer ones). */
  migrations?: readonly Migration[];
}

/**
 * `url` as it may be printed: the password replaced by `***`. Without a URL, the PG* variables
 * that pg would use, put together the same way.
 */
export function redactUrl(url: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (url === undefined || url === '') {
    const user = env.PGUSER ?? env.USER ?? '';
    const host = env.PGHOST ?? 'localhost';
    const port = env.PGPORT ?? '5432';
    const database = env.PGDATABASE ?? user;
    const hostPart = host.startsWith('/') ? `localhost${encodeURIComponent(host)}` : host;
    return `postgres://${user === '' ? '' : `${user}@`}${hostPart}:${port}/${database}`;
  }
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    // Query options may carry a password too (`?password=`); they are not worth showing.
    u.search = '';
    return u.toString();
  } catch {
    // An unparsable URL may still hold a password after the first colon; show only its scheme.
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? 'postgres:';
    return `${scheme}//(unparsable URL)`;
  }
}

/** The password in `url` (or PGPASSWORD), for redaction. */
function passwordOf(url: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  if (env.PGPASSWORD !== undefined && env.PGPASSWORD !== '') out.push(env.PGPASSWORD);
  if (url !== undefined) {
    try {
      const u = new URL(url);
      if (u.password !== '') {
        out.push(u.password);
        out.push(decodeURIComponent(u.password));
      }
      const query = u.searchParams.get('password');
      if (query !== null && query !== '') out.push(query);
    } catch {
      const match = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@]*)@/i.exec(url);
      if (match?.[1] !== undefined && match[1] !== '') out.push(match[1]);
    }
  }
  return out;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// admin_shutdown, crash_shutdown, cannot_connect_now, and connection exceptions (class 08).
const SERVER_GONE = new Set(['57P01', '57P02', '57P03']);

/** True for failures of the connection rather than of the statement: the client is dropped and a read retried. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || SERVER_GONE.has(code) || code.startsWith('08'))) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(message);
}

/**
 * True when a failed statement certainly did not commit: the server ended the session
 * (admin or crash shutdown) and said so, or the client never sent it.
 */
function nothingCommitted(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && SERVER_GONE.has(code)) return true;
  return /not queryable/i.test(error instanceof Error ? error.message : '');
}

/**
 * Turns a pg or network failure into a {@link MemoryError} that names the database (without its
 * password) and says what to do.
 */
export function toPostgresError(
  error: unknown,
  where: { location: string; secrets: readonly string[]; statementTimeoutMs?: number },
): MemoryError {
  if (error instanceof MemoryError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
  const detail = redactSecrets(error instanceof Error ? error.message : String(error), where.secrets);
  const at = where.location;
  const make = (kind: MemoryErrorCode, message: string): MemoryError =>
    new MemoryError({ code: kind, file: at, message: redactSecrets(message, where.secrets), cause: scrubbed(error, where.secrets) });

  if (code === '28P01' || code === '28000') {
    return make('auth', `PostgreSQL at ${at} refused the login (${detail}); check the user and password in [memory] url or PGPASSWORD.`);
  }
  if (code === '3D000') {
    return make('unavailable', `The memory database at ${at} does not exist (${detail}); create it (createdb) or fix the database name in [memory] url.`);
  }
  if (code === '57014') {
    const limit = where.statementTimeoutMs === undefined ? '' : ` of ${where.statementTimeoutMs} ms`;
    return make(
      'timeout',
      `A memory query on ${at} ran longer than the statement timeout${limit} and was cancelled; raise statementTimeoutMs ([memory] statement_timeout) or check the database's load.`,
    );
  }
  if (code === '55P03' || code === '40001' || code === '40P01') {
    return make('locked', `The memory database at ${at} could not take a lock (${detail}); retry the request.`);
  }
  if (isConnectionError(error)) {
    return make('unavailable', `The memory database at ${at} is not reachable (${detail || code}); start PostgreSQL or fix [memory] url.`);
  }
  return make('io', `The memory database at ${at} failed: ${detail}.`);
}

/** The error without anything that could carry the password further (pg errors do not, but a cause is logged whole). */
function scrubbed(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error)) return error;
  const copy = new Error(redactSecrets(error.message, secrets));
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) (copy as Error & { code?: unknown }).code = code;
  return copy;
}

interface MessageRow extends QueryResultRow {
  id: string;
  conversation_id: string;
  role: Role;
  content: string;
  thinking: string | null;
  tool_calls: ToolCall[] | null;
  sender: string | null;
  provider: string | null;
  model: string | null;
  created_at: Date;
  interrupted: boolean;
  metadata: GatewayMetadata | null;
  tokens: number | null;
  token_source: TokenSource | null;
}

interface AuditRow extends QueryResultRow {
  id: string;
  ts: Date;
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
  host: string | null;
}

const MESSAGE_COLUMNS =
  'id, conversation_id, role, content, thinking, tool_calls, sender, provider, model, created_at, interrupted, metadata, tokens, token_source';

// One statement, so one round trip and one implicit transaction: the conversation upsert takes
// the row lock and hands out two sequence numbers, then both messages and the audit row follow.
const SAVE_EXCHANGE = `WITH conv AS (
  INSERT INTO conversations AS c (id, channel, title, created_at, updated_at, next_seq)
  VALUES ($1::text, $2::text, $3::text, $4::timestamptz, $4::timestamptz, 2)
  ON CONFLICT (id) DO UPDATE SET updated_at = EXCLUDED.updated_at, title = COALESCE(c.title, EXCLUDED.title), next_seq = c.next_seq + 2
  RETURNING next_seq
), msgs AS (
  INSERT INTO messages (conversation_id, seq, role, content, thinking, tool_calls, sender, provider, model, created_at, interrupted, metadata, tokens, token_source)
  SELECT $1::text, conv.next_seq - 2, $5::text, $6::text, $7::text, $8::jsonb, $9::text, NULL::text, NULL::text, $4::timestamptz, FALSE, NULL::jsonb, $10::integer, $11::text FROM conv
  UNION ALL
  SELECT $1::text, conv.next_seq - 1, $12::text, $13::text, $14::text, $15::jsonb, NULL::text, $16::text, $17::text, $18::timestamptz, $19::boolean, $20::jsonb, $21::integer, $22::text FROM conv
)
INSERT INTO audit (ts, channel, conversation_id, sender, provider, model, outcome, error_code, error_message, prompt_tokens, completion_tokens, duration_ms, host)
SELECT $24::timestamptz, $25::text, $26::text, $27::text, $28::text, $29::text, $30::text, $31::text, $32::text, $33::integer, $34::integer, $35::integer, $36::text
WHERE $23::boolean`;

const INSERT_AUDIT = `INSERT INTO audit (ts, channel, conversation_id, sender, provider, model, outcome, error_code, error_message, prompt_tokens, completion_tokens, duration_ms, host)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;

/**
 * PostgreSQL's TEXT and JSONB cannot hold U+0000, which SQLite stores as is; a model that emits
 * one must not make the exchange fail, so it is stored as U+FFFD (the replacement character).
 */
function text(value: string): string;
function text(value: string | undefined | null): string | null;
function text(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

/** Query values with every string passed through {@link text}: ids, names and messages alike. */
function params(values: readonly unknown[]): unknown[] {
  return values.map((v) => (typeof v === 'string' ? text(v) : v));
}

/** JSON for a JSONB column, with U+0000 escapes replaced as {@link text} does. */
function json(value: unknown): string {
  const out = JSON.stringify(value);
  return out.includes('\\u0000') ? out.replaceAll('\\u0000', '\\ufffd') : out;
}

function iso(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function toolCallsJson(message: ChatMessage): string | null {
  return message.toolCalls === undefined || message.toolCalls.length === 0 ? null : json(message.toolCalls);
}

function toChat(row: MessageRow): ChatMessage {
  const message: ChatMessage = { role: row.role, content: row.content };
  if (row.thinking !== null) message.thinking = row.thinking;
  if (row.tool_calls !== null) message.toolCalls = row.tool_calls;
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
  if (row.role === 'assistant' && row.metadata !== null) entry.metadata = row.metadata;
  return entry;
}

function toStored(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    id: Number(row.id),
    conversationId: row.conversation_id,
    role: row.role,
    content: row.content,
    createdAt: iso(row.created_at),
    interrupted: row.interrupted,
  };
  if (row.thinking !== null) message.thinking = row.thinking;
  if (row.tool_calls !== null) message.toolCalls = row.tool_calls;
  if (row.sender !== null) message.sender = row.sender;
  if (row.provider !== null) message.provider = row.provider;
  if (row.model !== null) message.model = row.model;
  if (row.metadata !== null) message.metadata = row.metadata;
  const tokens = toTokenCount(row);
  if (tokens !== undefined) message.tokens = tokens;
  return message;
}

function toAudit(row: AuditRow): AuditRecord {
  const record: AuditRecord = {
    id: Number(row.id),
    ts: iso(row.ts),
    channel: row.channel,
    conversationId: row.conversation_id,
    sender: row.sender,
    provider: row.provider,
    outcome: row.outcome,
    durationMs: row.duration_ms,
  };
  if (row.model !== null) record.model = row.model;
  if (row.error_code !== null) record.errorCode = row.error_code;
  if (row.error_message !== null) record.errorMessage = row.error_message;
  if (row.prompt_tokens !== null) record.promptTokens = row.prompt_tokens;
  if (row.completion_tokens !== null) record.completionTokens = row.completion_tokens;
  if (row.host !== null) record.host = row.host;
  return record;
}

function auditValues(r: AuditRecordInput): unknown[] {
  const ts = r.ts === undefined ? new Date().toISOString() : iso(r.ts);
  return [
    ts,
    r.channel,
    r.conversationId,
    r.sender,
    r.provider,
    r.model ?? null,
    r.outcome,
    r.errorCode ?? null,
    text(r.errorMessage),
    nonNegativeInt(r.promptTokens),
    nonNegativeInt(r.completionTokens),
    nonNegativeInt(r.durationMs) ?? 0,
    text(r.host),
  ];
}

/** Reads the schema version; 0 for an empty database. */
async function readVersion(client: PoolClient): Promise<number> {
  const table = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t");
  if (table.rows[0]?.t === null || table.rows[0] === undefined) return 0;
  const row = await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_version');
  return row.rows[0]?.v ?? 0;
}

/**
 * Whether the database at `opts.url` (or the PG* variables) answers, and its schema version,
 * over one short-lived connection: nothing is created or migrated. Never throws.
 */
export async function probePostgres(opts: Pick<PostgresMemoryOptions, 'url' | 'env' | 'connectTimeoutMs'> = {}): Promise<MemoryHealth> {
  const env = opts.env ?? process.env;
  const location = redactUrl(opts.url, env);
  const secrets = passwordOf(opts.url, env);
  const client = new pg.Client({
    ...(opts.url === undefined || opts.url === '' ? {} : { connectionString: opts.url }),
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
    application_name: 'omega-status',
  });
  // A failed connection also emits 'error'; the rejection below is what reports it.
  client.on('error', () => {});
  const started = performance.now();
  try {
    await client.connect();
    const table = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t");
    let schemaVersion = 0;
    if (table.rows[0]?.t !== null && table.rows[0] !== undefined) {
      schemaVersion = (await client.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_version')).rows[0]?.v ?? 0;
    }
    return { backend: 'postgres', location, ok: true, schemaVersion, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    return { backend: 'postgres', location, ok: false, error: toPostgresError(error, { location, secrets }).message };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Conversation memory and audit trail in a PostgreSQL database shared by several instances. */
export class PostgresMemory implements MemoryStore {
  readonly backend = 'postgres' as const;
  /** The database URL without its password. */
  readonly location: string;
  private readonly pool: pg.Pool;
  private readonly logger: Logger;
  private readonly secrets: string[];
  private readonly statementTimeoutMs: number;
  private readonly poolSize: number;
  private closed = false;

  private constructor(pool: pg.Pool, location: string, secrets: string[], statementTimeoutMs: number, logger: Logger) {
    this.pool = pool;
    this.poolSize = pool.options.max;
    this.location = location;
    this.secrets = secrets;
    this.statementTimeoutMs = statementTimeoutMs;
    this.logger = logger;
  }

  /**
   * Connects, then brings the schema up to date under an advisory lock (two instances starting
   * at once migrate once). An unreachable server, a refused login or a schema newer than this
   * Omega knows fails here with a {@link MemoryError}; the pool is closed again.
   */
  static async open(opts: PostgresMemoryOptions = {}): Promise<PostgresMemory> {
    const env = opts.env ?? process.env;
    const location = redactUrl(opts.url, env);
    const secrets = passwordOf(opts.url, env);
    const statementTimeoutMs = Math.max(0, Math.floor(opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS));
    const logger = (opts.logger ?? silentLogger).child({ component: 'memory', backend: 'postgres' });
    const config: PoolConfig = {
      max: Math.max(1, Math.floor(opts.poolSize ?? DEFAULT_POOL_SIZE)),
      connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      application_name: 'omega',
      // Idle pooled connections must not keep the process alive after close() is forgotten.
      allowExitOnIdle: true,
    };
    if (statementTimeoutMs > 0) config.statement_timeout = statementTimeoutMs;
    if (opts.url !== undefined && opts.url !== '') config.connectionString = opts.url;
    const pool = new pg.Pool(config);
    // An idle connection the server closed (a restart) is dropped by the pool; without a
    // listener the error would crash the process.
    pool.on('error', (error) => {
      logger.warn({ err: redactSecrets(error.message, secrets) }, 'an idle memory connection failed; the pool drops it');
    });
    const memory = new PostgresMemory(pool, location, secrets, statementTimeoutMs, logger);
    try {
      const { from, to } = await memory.migrate(opts.migrations ?? POSTGRES_MIGRATIONS);
      if (from !== to) logger.info({ location, from, to }, 'memory database migrated');
      logger.debug({ location }, 'memory database open');
      return memory;
    } catch (error) {
      await pool.end().catch(() => {});
      memory.closed = true;
      throw memory.fail(error);
    }
  }

  /** Applies pending migrations, each in its own transaction, all under the migration lock. */
  private async migrate(migrations: readonly Migration[]): Promise<{ from: number; to: number }> {
    migrations.forEach((m, i) => {
      if (m.version !== i + 1) throw new Error(`Migration "${m.name}" has version ${m.version}, expected ${i + 1}.`);
    });
    const latest = migrations.length;
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      // Migrations may take longer than one request's statement timeout.
      await client.query('SET statement_timeout = 0');
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      try {
        const current = await readVersion(client);
        if (current > latest) {
          throw new MemoryError({
            code: 'schema',
            file: this.location,
            message: `The memory database at ${this.location} has schema version ${current}, newer than this Omega supports (${latest}); upgrade Omega, or point [memory] url at another database.`,
          });
        }
        for (const m of migrations) {
          if (m.version <= current) continue;
          await client.query('BEGIN');
          try {
            await client.query(
              'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)',
            );
            await client.query(m.sql);
            await client.query('INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, now())', [m.version, m.name]);
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch(() => {});
            if (isConnectionError(error) || error instanceof MemoryError) throw error;
            throw new MemoryError({
              code: 'schema',
              file: this.location,
              message: `Upgrading the memory database at ${this.location} to schema version ${m.version} (${m.name}) failed: ${redactSecrets((error as Error).message, this.secrets)}.`,
              cause: error,
            });
          }
        }
        return { from: current, to: Math.max(current, latest) };
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
      }
    } catch (error) {
      broken = isConnectionError(error) ? error : undefined;
      throw error;
    } finally {
      // The session's statement_timeout was changed; the connection is not handed out again.
      client.release(broken instanceof Error ? broken : true);
    }
  }

  async history(conversationId: string, limit: number): Promise<ChatMessage[]> {
    return (await this.historyRows(conversationId, limit)).map(toChat);
  }

  async historyEntries(conversationId: string, limit: number): Promise<HistoryEntry[]> {
    return (await this.historyRows(conversationId, limit)).map(toEntry);
  }

  async calibrations(): Promise<[string, TokenCalibration][]> {
    const rows = await this.read<{ model: string; chars: number; tokens: number; samples: number }>(
      'SELECT model, chars, tokens, samples FROM token_calibration ORDER BY model',
    );
    return rows.map((r): [string, TokenCalibration] => [r.model, { chars: r.chars, tokens: r.tokens, samples: r.samples }]);
  }

  async saveCalibration(key: string, calibration: TokenCalibration): Promise<void> {
    await this.write(
      `INSERT INTO token_calibration (model, chars, tokens, samples, updated_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (model) DO UPDATE SET chars = EXCLUDED.chars, tokens = EXCLUDED.tokens, samples = EXCLUDED.samples, updated_at = EXCLUDED.updated_at`,
      [key, calibration.chars, calibration.tokens, calibration.samples],
    );
  }

  async messages(conversationId: string): Promise<StoredMessage[]> {
    const rows = await this.read<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY seq`, [conversationId]);
    return rows.map(toStored);
  }

  async saveExchange(x: ExchangeInput): Promise<void> {
    const now = new Date().toISOString();
    const a = x.audit;
    await this.write(
      SAVE_EXCHANGE,
      [
        x.conversationId,
        x.channel,
        text(titleOf(x.user.content)),
        now,
        x.user.role,
        text(x.user.content),
        text(x.user.thinking),
        toolCallsJson(x.user),
        x.sender,
        x.userTokens === undefined ? null : nonNegativeInt(x.userTokens.tokens),
        x.userTokens?.source ?? null,
        x.assistant.role,
        text(x.assistant.content),
        text(x.assistant.thinking),
        toolCallsJson(x.assistant),
        x.metadata.providerUsed,
        x.metadata.model,
        new Date().toISOString(),
        x.interrupted === true,
        json(x.metadata),
        x.assistantTokens === undefined ? null : nonNegativeInt(x.assistantTokens.tokens),
        x.assistantTokens?.source ?? null,
        a !== undefined,
        ...(a === undefined ? new Array<null>(13).fill(null) : auditValues(a)),
      ],
      'save-exchange',
    );
  }

  async audit(record: AuditRecordInput): Promise<void> {
    await this.write(INSERT_AUDIT, auditValues(record), 'insert-audit');
  }

  async listAudit(q: { conversationId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = Math.max(0, Math.floor(q.limit ?? 100));
    const rows =
      q.conversationId === undefined
        ? await this.read<AuditRow>('SELECT * FROM (SELECT * FROM audit ORDER BY id DESC LIMIT $1) t ORDER BY id', [limit])
        : await this.read<AuditRow>(
            'SELECT * FROM (SELECT * FROM audit WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2) t ORDER BY id',
            [q.conversationId, limit],
          );
    return rows.map(toAudit);
  }

  async forget(conversationId: string): Promise<number> {
    const rows = await this.write<{ n: number }>(
      `WITH gone AS (DELETE FROM messages WHERE conversation_id = $1 RETURNING 1),
            conv AS (DELETE FROM conversations WHERE id = $1 RETURNING 1)
       SELECT (SELECT COUNT(*) FROM gone)::int AS n, (SELECT COUNT(*) FROM conv)::int AS c`,
      [conversationId],
    );
    return rows[0]?.n ?? 0;
  }

  async conversations(): Promise<ConversationSummary[]> {
    const rows = await this.read<{ id: string; channel: string; title: string | null; created_at: Date; updated_at: Date; message_count: number }>(
      `SELECT c.id, c.channel, c.title, c.created_at, c.updated_at,
              (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)::int AS message_count
       FROM conversations c ORDER BY c.updated_at DESC, c.id ASC`,
    );
    return rows.map((row) => {
      const summary: ConversationSummary = {
        id: row.id,
        channel: row.channel,
        createdAt: iso(row.created_at),
        updatedAt: iso(row.updated_at),
        messageCount: row.message_count,
      };
      if (row.title !== null) summary.title = row.title;
      return summary;
    });
  }

  async exportConversation(conversationId: string): Promise<ConversationExport | undefined> {
    const rows = await this.read<{ id: string; channel: string; title: string | null; created_at: Date; updated_at: Date }>(
      'SELECT id, channel, title, created_at, updated_at FROM conversations WHERE id = $1',
      [conversationId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    const out: ConversationExport = {
      id: row.id,
      channel: row.channel,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      messages: (await this.messages(conversationId)).map(toExported),
    };
    if (row.title !== null) out.title = row.title;
    return out;
  }

  async importConversation(c: ConversationExport): Promise<ImportOutcome> {
    return this.transaction(async (client) => {
      const inserted = await client.query(
        `INSERT INTO conversations (id, channel, title, created_at, updated_at, next_seq) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO NOTHING`,
        params([c.id, c.channel, c.title ?? null, c.createdAt, c.updatedAt, c.messages.length]),
      );
      if (inserted.rowCount === 0) return 'exists';
      for (const [seq, m] of c.messages.entries()) {
        await client.query(
          `INSERT INTO messages (conversation_id, seq, role, content, thinking, tool_calls, sender, provider, model, created_at, interrupted, metadata, tokens, token_source)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12::jsonb, $13, $14)`,
          params([
            c.id,
            seq,
            m.role,
            text(m.content),
            text(m.thinking),
            m.toolCalls === undefined || m.toolCalls.length === 0 ? null : json(m.toolCalls),
            m.sender ?? null,
            m.provider ?? null,
            m.model ?? null,
            m.createdAt,
            m.interrupted,
            m.metadata === undefined ? null : json(m.metadata),
            m.tokens === undefined ? null : nonNegativeInt(m.tokens.tokens),
            m.tokens?.source ?? null,
          ]),
        );
      }
      return 'imported';
    });
  }

  async schemaVersion(): Promise<number> {
    const rows = await this.read<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_version');
    return rows[0]?.v ?? 0;
  }

  async health(): Promise<MemoryHealth> {
    const started = performance.now();
    try {
      const schemaVersion = await this.schemaVersion();
      return { backend: 'postgres', location: this.location, ok: true, schemaVersion, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
    } catch (error) {
      return { backend: 'postgres', location: this.location, ok: false, error: this.fail(error).message };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
    this.logger.debug({ location: this.location }, 'memory database closed');
  }

  private async historyRows(conversationId: string, limit: number): Promise<MessageRow[]> {
    if (!(limit > 0)) return [];
    return this.read<MessageRow>(
      `SELECT * FROM (SELECT ${MESSAGE_COLUMNS}, seq FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2) t ORDER BY seq`,
      [conversationId, Math.floor(limit)],
    );
  }

  /** A read: retried on a fresh connection while the pooled ones turn out dead (a restarted server). */
  private async read<R extends QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    return this.run<R>(sql, values, undefined, true);
  }

  /**
   * A write: retried only when the server said it ended the session (so nothing was committed)
   * or the client refused to send; never after a reply was lost, so an exchange is never stored twice.
   */
  private async write<R extends QueryResultRow>(sql: string, values: unknown[], name?: string): Promise<R[]> {
    return this.run<R>(sql, values, name, false);
  }

  private async run<R extends QueryResultRow>(sql: string, values: unknown[], name: string | undefined, isRead: boolean): Promise<R[]> {
    this.checkOpen();
    // Every pooled connection may be dead after a restart; one more try than the pool holds.
    const tries = this.poolSize + 1;
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        if (attempt < 2 && isConnectionError(error) && !this.closed) continue;
        throw this.fail(error);
      }
      try {
        const result = await client.query<R>(name === undefined ? { text: sql, values: params(values) } : { name, text: sql, values: params(values) });
        client.release();
        return result.rows;
      } catch (error) {
        const dead = isConnectionError(error);
        client.release(dead ? (error as Error) : undefined);
        if (dead && attempt < tries && (isRead || nothingCommitted(error))) {
          this.logger.warn({ err: redactSecrets((error as Error).message, this.secrets) }, 'a memory connection was dead; retrying on another');
          continue;
        }
        throw this.fail(error);
      }
    }
  }

  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    this.checkOpen();
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.fail(error);
    }
    let dead: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (isConnectionError(error)) dead = error as Error;
      else await client.query('ROLLBACK').catch(() => {});
      throw this.fail(error);
    } finally {
      client.release(dead);
    }
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new MemoryError({
        code: 'io',
        file: this.location,
        message: `The memory database at ${this.location} is already closed; open it again before using it.`,
      });
    }
  }

  private fail(error: unknown): MemoryError {
    return toPostgresError(error, { location: this.location, secrets: this.secrets, statementTimeoutMs: this.statementTimeoutMs });
  }
}
