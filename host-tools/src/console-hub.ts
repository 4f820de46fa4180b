/**
 * The console's live feed: the ingest pipeline tells the hub of every committed batch (as a
 * FrameObserver, only while someone listens), and the hub sends each batch to every open event
 * stream as one server-sent event, encoded once for all of them. A stream that does not keep up
 * (more than `maxBufferedBytes` unsent) skips batches and is told how many frames it missed.
 */
import type { ServerResponse } from 'node:http';
import type { CommittedFrame, FrameObserver } from './ingest.js';

/** One frame of the live feed, as the console reads it. */
export interface LiveFrame {
  id: number;
  /** ms since the epoch. */
  at: number;
  source: string;
  code: string;
  kid: string | null;
  name: string | null;
  counter: number | null;
  detail: string | null;
  /** Readings in units: [name, value, unit] (of record version 2, the clear ones). */
  readings: Array<[string, number, string]>;
  /** Record version 2: bytes of readings kept encrypted (the console shows "encrypted (N bytes)"); null otherwise. */
  encryptedBytes: number | null;
}

interface Stream {
  res: ServerResponse;
  /** Frames skipped since the last batch sent. */
  missed: number;
}

export interface ConsoleHubOptions {
  /** Device names by kid, read again at most every `namesMaxAgeMs` and when a kid is unknown. */
  names: () => Promise<Map<string, string>>;
  namesMaxAgeMs?: number;
  /** Unsent bytes beyond which a stream skips batches (default 1 MiB). */
  maxBufferedBytes?: number;
  /** A comment line keeps idle streams open through proxies, this often in ms (default 15,000). */
  keepAliveMs?: number;
}

export class ConsoleHub implements FrameObserver {
  private readonly streams = new Set<Stream>();
  private names = new Map<string, string>();
  private namesReadAt = 0;
  private namesReading = false;
  private readonly namesMaxAgeMs: number;
  private readonly maxBuffered: number;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private readonly keepAliveMs: number;

  constructor(private readonly options: ConsoleHubOptions) {
    this.namesMaxAgeMs = options.namesMaxAgeMs ?? 5_000;
    this.maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
  }

  get listening(): boolean {
    return this.streams.size > 0;
  }

  /** Opens an event stream on `res`; it ends when the client goes away or the hub closes. */
  open(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.write(': sceau live feed\n\n');
    const stream: Stream = { res, missed: 0 };
    this.streams.add(stream);
    void this.refreshNames();
    res.on('close', () => {
      this.streams.delete(stream);
      if (this.streams.size === 0 && this.keepAlive !== undefined) {
        clearInterval(this.keepAlive);
        this.keepAlive = undefined;
      }
    });
    if (this.keepAlive === undefined) {
      this.keepAlive = setInterval(() => {
        for (const s of this.streams) s.res.write(': keep-alive\n\n');
      }, this.keepAliveMs);
      this.keepAlive.unref();
    }
  }

  committed(frames: CommittedFrame[]): void {
    if (this.streams.size === 0) return;
    let unknown = false;
    const live = frames.map((f): LiveFrame => {
      const o = f.outcome;
      const kid = o.kid ?? null;
      const name = kid === null ? null : (this.names.get(kid) ?? null);
      if (kid !== null && name === null) unknown = true;
      return {
        id: f.id,
        at: f.receivedAt,
        source: f.source,
        code: o.code,
        kid,
        name,
        counter: o.counter ?? null,
        detail: o.detail ?? null,
        readings: (o.readings ?? o.clearReadings ?? []).map((r) => [r.name, r.value, r.unit]),
        encryptedBytes: o.encryptedBytes ?? null,
      };
    });
    if (unknown) void this.refreshNames();
    const data = JSON.stringify(live);
    for (const s of this.streams) {
      if (s.res.writableLength > this.maxBuffered) {
        s.missed += live.length;
        continue;
      }
      // One event per batch; a skipped stream learns how many frames it missed.
      s.res.write(s.missed > 0 ? `event: missed\ndata: ${s.missed}\n\ndata: ${data}\n\n` : `data: ${data}\n\n`);
      s.missed = 0;
    }
  }

  /** Ends every stream (the gateway is closing). */
  close(): void {
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }

  private async refreshNames(): Promise<void> {
    if (this.namesReading || Date.now() - this.namesReadAt < this.namesMaxAgeMs) return;
    this.namesReading = true;
    try {
      this.names = await this.options.names();
      this.namesReadAt = Date.now();
    } catch {
      // The registry could not be read now: frames keep their kid, names come with a later read.
    } finally {
      this.namesReading = false;
    }
  }
}
