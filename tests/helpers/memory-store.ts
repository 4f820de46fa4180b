// A store of the ingest side in memory, for tests that run the pipeline without SQLite: a
// keyring, replay windows and rows in arrays; commits answer on the next turn.
import { MemoryKeyring, ReplayWindow, type KeyQuery, type KeyringEntry } from '@sceau/protocol';
import type { AcceptedFrame, CommitDone, FrameColumns, IngestStore } from '@sceau/host-tools';

export interface MemoryRow {
  id: number;
  kid: string | null;
  counter: number | null;
  outcome: string;
  raw: Uint8Array;
  receivedAt: number;
  source: string;
}

/** A store in memory: a keyring, windows and rows in arrays; commits answer on the next turn. */
export class MemoryIngestStore implements IngestStore {
  readonly keys = new MemoryKeyring();
  readonly rows: MemoryRow[] = [];
  readonly commits: number[] = [];
  private readonly windows = new Map<string, ReplayWindow>();
  readonly replay = {
    get: (kid: string): ReplayWindow => {
      let w = this.windows.get(kid);
      if (w === undefined) this.windows.set(kid, (w = new ReplayWindow()));
      return w;
    },
    forget: (): void => this.windows.clear(),
  };
  failNext = false;

  resolve(query: KeyQuery): KeyringEntry | undefined {
    return this.keys.resolve(query);
  }
  acceptedFrame(kid: string, counter: number): AcceptedFrame | undefined {
    const row = this.rows.find((r) => r.kid === kid && r.counter === counter && r.outcome === 'ok');
    return row === undefined ? undefined : { id: row.id, receivedAt: row.receivedAt, source: row.source, raw: row.raw };
  }
  commitBatch(batch: FrameColumns, done: CommitDone): void {
    setImmediate(() => {
      if (this.failNext) {
        this.failNext = false;
        done(new Error('disk on fire'), []);
        return;
      }
      const ids = batch.raw.map((raw, i) => {
        const id = this.rows.length + 1;
        this.rows.push({ id, kid: batch.kid[i]!, counter: batch.counter[i]!, outcome: batch.outcome[i]!, raw, receivedAt: batch.receivedAt[i]!, source: batch.source[i]! });
        return id;
      });
      this.commits.push(ids.length);
      done(undefined, ids);
    });
  }
  isContention(): boolean {
    return false;
  }
  probeWrite(): string | undefined {
    return undefined;
  }
  health(): string | undefined {
    return undefined;
  }
}
