/**
 * A fake `claude` executable: a small node script (with a `#!/usr/bin/env node` shebang) written
 * to a temp directory. What it does is chosen per run with FAKE_CLAUDE_MODE; it records its
 * arguments, stdin and the pids of any processes it starts to FAKE_CLAUDE_RECORD.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const SCRIPT = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const mode = process.env.FAKE_CLAUDE_MODE || 'success';
const recordFile = process.env.FAKE_CLAUDE_RECORD;
const args = process.argv.slice(2);
const record = (extra) => {
  if (!recordFile) return;
  // Written aside and renamed, so a reader never sees half a file.
  fs.writeFileSync(recordFile + '.tmp', JSON.stringify({ args, pid: process.pid, ...extra }));
  fs.renameSync(recordFile + '.tmp', recordFile);
};
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const result = (extra) => ({
  type: 'result', subtype: 'success', is_error: false, duration_ms: 1234, duration_api_ms: 1000, num_turns: 1,
  result: 'ok', session_id: 'sess-123', total_cost_usd: 0.0123,
  usage: { input_tokens: 10, cache_creation_input_tokens: 5, cache_read_input_tokens: 100, output_tokens: 7 },
  ...extra,
});

if (args.includes('--version')) {
  record({ stdin: '' });
  if (mode === 'version_fail') { process.stderr.write('broken install\n'); process.exit(3); }
  if (mode === 'version_hang') { setInterval(() => {}, 1000); return; }
  process.stdout.write('2.0.14 (Claude Code)\n');
  process.exit(0);
}

let stdin = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { stdin += d; });
process.stdin.on('end', () => {
  record({ stdin });
  switch (mode) {
    case 'success':
      out(result({ result: 'echo: ' + stdin, modelUsage: { 'claude-sonnet-4-5-20250929': { outputTokens: 7 }, 'claude-haiku-4-5': { outputTokens: 1 } } }));
      break;
    case 'success_model':
      out(result({ result: 'hi', model: 'claude-opus-4-1' }));
      break;
    case 'verbose_array':
      process.stdout.write(JSON.stringify([{ type: 'system', subtype: 'init' }, result({ result: 'from array' })]));
      break;
    case 'max_turns_partial':
      out(result({ subtype: 'error_max_turns', is_error: false, num_turns: 2, result: 'partial answer' }));
      break;
    case 'max_turns_empty': {
      const r = result({ subtype: 'error_max_turns', is_error: false, num_turns: 2 });
      delete r.result;
      out(r);
      break;
    }
    case 'is_error_auth':
      out(result({ is_error: true, result: 'Invalid API key · Please run /login' }));
      process.exitCode = 1;
      break;
    case 'invalid_json':
      process.stdout.write('this is not json {\n');
      break;
    case 'exit_error':
      process.stderr.write('starting\nfatal: the thing broke (key ' + (process.env.ANTHROPIC_API_KEY || '') + ')\n\n');
      process.exitCode = 2;
      break;
    case 'stream':
      out({ type: 'system', subtype: 'init', session_id: 'sess-9', model: 'claude-sonnet-4-5-20250929', tools: [] });
      out({ type: 'assistant', parent_tool_use_id: null, message: { model: 'claude-sonnet-4-5-20250929', content: [{ type: 'text', text: 'Hello' }] } });
      out({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'x' }] } });
      out({ type: 'assistant', parent_tool_use_id: 'sub', message: { content: [{ type: 'text', text: 'SUBAGENT' }] } });
      out({ type: 'assistant', parent_tool_use_id: null, message: { content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'World' }] } });
      process.stdout.write('a stray line that is not json\n');
      out(result({ result: 'World' }));
      break;
    case 'stream_max_turns_empty':
      out({ type: 'system', subtype: 'init', model: 'm' });
      out({ type: 'result', subtype: 'error_max_turns', is_error: false, num_turns: 1 });
      break;
    case 'stream_result_only':
      out(result({ result: 'only the result' }));
      break;
    case 'hang':
    case 'stream_hang': {
      if (mode === 'stream_hang') {
        out({ type: 'assistant', message: { content: [{ type: 'text', text: 'first' }] } });
      }
      // A child that starts a grandchild which ignores SIGTERM: only SIGKILL to the group ends it.
      const grandchild = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);";
      const childCode = "const { spawn } = require('node:child_process');" +
        "const g = spawn(process.execPath, ['-e', " + JSON.stringify(grandchild) + "], { stdio: 'ignore' });" +
        "process.stdout.write(String(g.pid) + '\\n'); setInterval(() => {}, 1000);";
      const child = spawn(process.execPath, ['-e', childCode], { stdio: ['ignore', 'pipe', 'ignore'] });
      child.stdout.once('data', (d) => {
        record({ stdin, child: child.pid, grandchild: Number(String(d).trim()) });
      });
      setInterval(() => {}, 1000);
      break;
    }
    default:
      process.stderr.write('unknown mode ' + mode + '\n');
      process.exitCode = 9;
  }
});
`;

/** A fake claude installed in a temp directory. */
export interface FakeClaude {
  dir: string;
  /** Absolute path of the executable, named `claude`. */
  command: string;
  recordFile: string;
  /** An environment for a run in `mode`: the fake's directory first on PATH. */
  env(mode: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** What the last run recorded (arguments, stdin, pids). */
  record(): FakeRecord;
  /** Waits until the run has recorded the pids of the processes it started (a slow machine gets 30 s). */
  waitForPids(timeoutMs?: number): Promise<FakeRecord & { child: number; grandchild: number }>;
  cleanup(): void;
}

/** What the fake records of one run. */
export interface FakeRecord {
  args: string[];
  stdin: string;
  pid: number;
  child?: number;
  grandchild?: number;
}

/** Writes the fake to a new temp directory. */
export function installFakeClaude(): FakeClaude {
  const dir = mkdtempSync(join(tmpdir(), 'omega-fake-claude-'));
  const command = join(dir, 'claude');
  // Extensionless scripts follow the nearest package.json; make sure that means CommonJS.
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
  writeFileSync(command, SCRIPT);
  chmodSync(command, 0o755);
  const recordFile = join(dir, 'record.json');
  const readRecord = (): FakeRecord => JSON.parse(readFileSync(recordFile, 'utf8')) as FakeRecord;
  return {
    dir,
    command,
    recordFile,
    env(mode, extra = {}) {
      if (existsSync(recordFile)) rmSync(recordFile);
      return {
        PATH: `${dir}${delimiter}${process.env.PATH ?? ''}`,
        HOME: process.env.HOME,
        FAKE_CLAUDE_MODE: mode,
        FAKE_CLAUDE_RECORD: recordFile,
        ...extra,
      };
    },
    record: readRecord,
    async waitForPids(timeoutMs = 30_000) {
      const start = Date.now();
      for (;;) {
        let r: FakeRecord | undefined;
        try {
          r = readRecord();
        } catch {
          // not written yet
        }
        if (r !== undefined && typeof r.child === 'number' && typeof r.grandchild === 'number') {
          return r as FakeRecord & { child: number; grandchild: number };
        }
        if (Date.now() - start > timeoutMs) throw new Error('fake claude never recorded its child pids');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name, is the state.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Waits until none of `pids` is alive, or fails after `timeoutMs`. */
export async function waitGone(pids: readonly number[], timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (pids.some(isAlive)) {
    if (Date.now() - start > timeoutMs) {
      const left = pids.filter(isAlive);
      // Do not leave them behind whatever the outcome.
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      throw new Error(`processes still alive after ${timeoutMs} ms: ${left.join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
