/**
 * The gateway's audit trail over an Ollama fleet (fake hosts: real loopback HTTP servers), on
 * both memory backends (SQLite, and a real PostgreSQL from the test runner): one row per host
 * the fleet tried and left, each naming its host, then the answer's (or the failure's) row
 * naming the host it came from; streamed and whole, when every host fails, and when the
 * answering host breaks off mid-answer.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../src/core/errors.js';
import { Gateway } from '../../src/gateway/gateway.js';
import type { GatewayEvent } from '../../src/gateway/gateway.js';
import { PostgresMemory } from '../../src/gateway/memory/postgres.js';
import { SqliteStore } from '../../src/gateway/memory/sqlite.js';
import type { AuditRecord, MemoryStore } from '../../src/gateway/memory/store.js';
import { OllamaFleet } from '../../src/providers/ollama/fleet/fleet.js';
import { FakeFleetHost } from '../support/fake-fleet-host.js';
import type { FakeFleetHostOptions } from '../support/fake-fleet-host.js';
import { postgresSkipReason, usePostgresDatabase } from '../support/postgres-harness.js';
import { testConfig } from './helpers.js';

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

/** A fleet over new fake hosts; the first has the model loaded, so the router tries it first. */
async function fleetOf(...specs: FakeFleetHostOptions[]): Promise<{ fleet: OllamaFleet; hosts: FakeFleetHost[] }> {
  const hosts = await Promise.all(specs.map((s) => FakeFleetHost.start(s)));
  open.push(...hosts);
  const fleet = new OllamaFleet({
    hosts: hosts.map((h) => ({ url: h.url, weight: 1, labels: [] })),
    fleet: { refreshIntervalMs: 0, probeIntervalMs: 0, maxAttempts: hosts.length },
    provider: { model: 'llama3', timeouts: { connectMs: 1000, loadMs: 3000, idleMs: 3000 } },
  });
  open.push(fleet);
  return { fleet, hosts };
}

const loaded = { models: ['llama3'], loaded: ['llama3'] };
const idle = { models: ['llama3'] };

/** The rows of one audit key, as [outcome, errorCode, host]. */
async function rows(memory: MemoryStore, key: string): Promise<[string, string | undefined, string | undefined][]> {
  return (await memory.listAudit({ conversationId: key })).map((r: AuditRecord) => [r.outcome, r.errorCode, r.host]);
}

async function drain(events: AsyncIterable<GatewayEvent>): Promise<void> {
  for await (const _ of events) {
    // only the side effects matter here
  }
}

function suite(label: string, openMemory: () => Promise<MemoryStore>, skip: string | false = false): void {
  describe(`gateway audit over a fleet: ${label}`, { skip }, () => {
    it('a host failing before the first byte gets its own row; the answering host is on the answer row, whole and streamed', async () => {
      for (const key of ['whole', 'streamed']) {
        // A new fleet each time: after an answer, the good host has the model loaded and may come first.
        const { fleet, hosts } = await fleetOf(loaded, idle);
        const [bad, good] = hosts as [FakeFleetHost, FakeFleetHost];
        bad.chatFault = 'error500';
        const memory = await openMemory();
        const gateway = new Gateway({ config: testConfig(), memory, providers: { ollama: fleet } });
        open.push(gateway);
        const msg = { channel: 'cli', conversationId: key, sender: 'me', text: 'hi' };
        if (key === 'whole') assert.equal((await gateway.handle(msg)).metadata.host, good.url);
        else await drain(gateway.stream(msg));
        assert.deepEqual(
          await rows(memory, key),
          [
            ['server_error', 'server_error', bad.url],
            ['ok', undefined, good.url],
          ],
          key,
        );
        const [failed] = await memory.listAudit({ conversationId: key });
        assert.match(failed?.errorMessage ?? '', /llama runner process has terminated/);
        assert.equal(failed?.provider, 'ollama');
        assert.equal(failed?.model, 'llama3');
        assert.equal((await memory.messages(key)).length, 2, 'the exchange is stored once');
      }
    });

    it('every host failing: one row per host, the last one the failure the caller gets', async () => {
      const { fleet, hosts } = await fleetOf(loaded, idle);
      const [a, b] = hosts as [FakeFleetHost, FakeFleetHost];
      a.chatFault = 'error500';
      b.chatFault = 'error500';
      const memory = await openMemory();
      const gateway = new Gateway({ config: testConfig(), memory, providers: { ollama: fleet } });
      open.push(gateway);
      await assert.rejects(gateway.handle({ channel: 'cli', conversationId: 'down', sender: 'me', text: 'hi' }), (e: unknown) => {
        assert.ok(e instanceof ProviderError);
        assert.equal(e.code, 'server_error');
        assert.equal(e.host, b.url);
        assert.deepEqual(e.hostAttempts?.map((x) => [x.host, x.outcome]), [
          [a.url, 'server_error'],
          [b.url, 'server_error'],
        ]);
        return true;
      });
      assert.deepEqual(await rows(memory, 'down'), [
        ['server_error', 'server_error', a.url],
        ['server_error', 'server_error', b.url],
      ]);
    });

    it('a host failing before the first byte and the next breaking off mid-answer: both rows, the partial answer kept', async () => {
      const { fleet, hosts } = await fleetOf(loaded, { ...idle, parts: ['one ', 'two ', 'three'] });
      const [bad, cut] = hosts as [FakeFleetHost, FakeFleetHost];
      bad.chatFault = 'error500';
      cut.cutAfterParts = 2;
      const memory = await openMemory();
      const gateway = new Gateway({ config: testConfig(), memory, providers: { ollama: fleet } });
      open.push(gateway);
      await assert.rejects(drain(gateway.stream({ channel: 'cli', conversationId: 'cut', sender: 'me', text: 'hi' })), (e: unknown) => e instanceof ProviderError && e.code === 'connection_lost');
      assert.deepEqual(await rows(memory, 'cut'), [
        ['server_error', 'server_error', bad.url],
        ['connection_lost', 'connection_lost', cut.url],
      ]);
      const stored = await memory.messages('cut');
      assert.equal(stored.at(-1)?.content, 'one two ');
      assert.equal(stored.at(-1)?.interrupted, true);
    });
  });
}

suite('sqlite', async () => SqliteStore.open(':memory:'));

const skip = postgresSkipReason();
describe('on PostgreSQL', { skip }, () => {
  const db = usePostgresDatabase();
  suite('postgres', async () => PostgresMemory.open({ url: db.url }));
});
