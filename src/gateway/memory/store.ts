/**
 * The memory store the gateway talks to: conversations, their messages with token counts,
 * interrupted answers, the audit trail and the token calibration. Two implementations share
 * these semantics: SQLite (one file, the embedded default) and PostgreSQL (one server that
 * several Omega instances share). The interface is async because PostgreSQL is a network hop;
 * SQLite answers synchronously inside and resolves at once.
 */
import type { ChatMessage, Role } from '../../core/types.js';
import type { TokenCalibration } from '../../core/context-fit.js';
import type { GatewayMetadata } from '../types.js';

/** The memory backends `[memory] backend` chooses between. */
export type MemoryBackend = 'sqlite' | 'postgres';

/** Where a stored token count came from: the model's server, or the calibrated estimate. */
export type TokenSource = 'server' | 'estimate';

/** A message's token count and its source. */
export interface TokenCount {
  tokens: number;
  source: TokenSource;
}

/** One message of a conversation's history, with what the gateway needs to fit it into a window. */
export interface HistoryEntry {
  message: ChatMessage;
  /** Absent for messages stored before token accounting existed. */
  tokens?: TokenCount;
  /** For an assistant message: how its answer was produced. */
  metadata?: GatewayMetadata;
}

/** One user message and its answer, stored together or not at all. */
export interface ExchangeInput {
  conversationId: string;
  /** Where the conversation lives (`cli`, `chat`, ...); kept from the first exchange. */
  channel: string;
  /** Who sent the user message. */
  sender: string;
  user: ChatMessage;
  assistant: ChatMessage;
  /** How the answer was produced; stored with the assistant message. */
  metadata: GatewayMetadata;
  /** The answer was cut short (cancelled or failed mid-stream). */
  interrupted?: boolean;
  /** Token count of the user message. */
  userTokens?: TokenCount;
  /** Token count of the answer. */
  assistantTokens?: TokenCount;
  /** An audit record written in the same transaction, so the trail and the history agree. */
  audit?: AuditRecordInput;
}

/** What {@link MemoryStore.audit} records about one provider attempt. */
export interface AuditRecordInput {
  /** Defaults to now. */
  ts?: Date | string;
  channel: string;
  conversationId: string;
  sender: string;
  provider: string;
  model?: string;
  /** `ok`, or the error code of the failure (`unavailable`, `aborted`, ...). */
  outcome: string;
  errorCode?: string;
  errorMessage?: string;
  promptTokens?: number;
  completionTokens?: number;
  durationMs: number;
  /** The server this attempt went to, when the provider routes among several (an Ollama fleet). */
  host?: string;
}

/** A stored audit record. */
export interface AuditRecord extends Omit<AuditRecordInput, 'ts'> {
  id: number;
  /** ISO 8601. */
  ts: string;
}

/** A stored message with everything the history view leaves out. */
export interface StoredMessage extends ChatMessage {
  id: number;
  conversationId: string;
  sender?: string;
  provider?: string;
  model?: string;
  /** ISO 8601. */
  createdAt: string;
  interrupted: boolean;
  metadata?: GatewayMetadata;
  /** Absent for messages stored before token accounting existed. */
  tokens?: TokenCount;
}

/** One line of {@link MemoryStore.conversations}. */
export interface ConversationSummary {
  id: string;
  channel: string;
  /** The start of the first user message. */
  title?: string;
  createdAt: string;
  updatedAt: string;
  messageCount: number;
}

/** What {@link MemoryStore.health} reports: reachable or not, and the schema version found. */
export interface MemoryHealth {
  backend: MemoryBackend;
  /** The file, or the URL with its password removed. */
  location: string;
  ok: boolean;
  schemaVersion?: number;
  /** Round trip of the health query, in milliseconds. */
  latencyMs?: number;
  /** Why it is not ok (already free of secrets). */
  error?: string;
}

/** One message as `omega memory export` writes it: everything stored except the row id. */
export interface ExportedMessage {
  role: Role;
  content: string;
  thinking?: string;
  toolCalls?: ChatMessage['toolCalls'];
  sender?: string;
  provider?: string;
  model?: string;
  /** ISO 8601. */
  createdAt: string;
  interrupted: boolean;
  metadata?: GatewayMetadata;
  tokens?: TokenCount;
}

/** One conversation with all its messages: one line of the JSON lines export. */
export interface ConversationExport {
  id: string;
  channel: string;
  title?: string;
  createdAt: string;
  updatedAt: string;
  messages: ExportedMessage[];
}

/** What importing one conversation did: stored, or left alone because that id already exists. */
export type ImportOutcome = 'imported' | 'exists';

/**
 * Conversation memory and audit trail. Every write of an exchange is one transaction (the user
 * message, the answer and its audit row together or not at all), and writers to one conversation
 * are serialized, so its messages keep the order in which exchanges were stored.
 */
export interface MemoryStore {
  readonly backend: MemoryBackend;
  /** The file, or the URL with its password removed: safe to print. */
  readonly location: string;
  /** The last `limit` messages of a conversation, oldest first, ready to send as history. */
  history(conversationId: string, limit: number): Promise<ChatMessage[]>;
  /** Like {@link history}, with each message's stored token count and, for answers, their metadata. */
  historyEntries(conversationId: string, limit: number): Promise<HistoryEntry[]>;
  /** The token estimator's calibration per model (`<provider>/<model>`), as last saved. */
  calibrations(): Promise<[string, TokenCalibration][]>;
  /** Saves one model's calibration, replacing the previous one. */
  saveCalibration(key: string, calibration: TokenCalibration): Promise<void>;
  /** Every stored message of a conversation, oldest first, with its storage details. */
  messages(conversationId: string): Promise<StoredMessage[]>;
  /** Stores a user message and its answer (and `x.audit`) in one transaction: both or neither. */
  saveExchange(x: ExchangeInput): Promise<void>;
  /** Appends one record to the audit trail. */
  audit(record: AuditRecordInput): Promise<void>;
  /** The most recent `limit` audit records (100 by default), oldest first. */
  listAudit(q?: { conversationId?: string; limit?: number }): Promise<AuditRecord[]>;
  /** Deletes a conversation and its messages (not its audit trail); returns how many messages went. */
  forget(conversationId: string): Promise<number>;
  /** Every conversation, most recently updated first. */
  conversations(): Promise<ConversationSummary[]>;
  /** A conversation with every message, for export; undefined when there is none. */
  exportConversation(conversationId: string): Promise<ConversationExport | undefined>;
  /** Stores an exported conversation in one transaction; an id already present is left alone. */
  importConversation(conversation: ConversationExport): Promise<ImportOutcome>;
  /** The schema version of the database. */
  schemaVersion(): Promise<number>;
  /** Whether the store answers now; never throws. */
  health(): Promise<MemoryHealth>;
  /** Releases the file or the connections; later calls fail with a MemoryError. Safe to call twice. */
  close(): Promise<void>;
}

const TITLE_LENGTH = 80;

/** A conversation's title: the first user message on one line, cut to 80 characters. */
export function titleOf(text: string): string | null {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return null;
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line;
}

/** A finite count as a non-negative integer, or null. */
export function nonNegativeInt(value: number | undefined): number | null {
  return value === undefined || !Number.isFinite(value) ? null : Math.max(0, Math.round(value));
}

/** A stored message as export writes it. */
export function toExported(m: StoredMessage): ExportedMessage {
  const out: ExportedMessage = { role: m.role, content: m.content, createdAt: m.createdAt, interrupted: m.interrupted };
  if (m.thinking !== undefined) out.thinking = m.thinking;
  if (m.toolCalls !== undefined && m.toolCalls.length > 0) out.toolCalls = m.toolCalls;
  if (m.sender !== undefined) out.sender = m.sender;
  if (m.provider !== undefined) out.provider = m.provider;
  if (m.model !== undefined) out.model = m.model;
  if (m.metadata !== undefined) out.metadata = m.metadata;
  if (m.tokens !== undefined) out.tokens = m.tokens;
  return out;
}
