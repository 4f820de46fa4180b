/** The SQLite store's replay windows (table `replay_windows`), read once per kid and cached; written with the frames (store.ts). */
import type Database from 'better-sqlite3';
import { ReplayWindow, type ReplayWindowStore } from '@sceau/protocol';

/** Replay windows persisted in `replay_windows`; cached in memory between transactions. */
export class SqliteReplayWindows implements ReplayWindowStore {
  private readonly cache = new Map<string, ReplayWindow>();
  private readonly load: Database.Statement<[string], { highest: number; bitmap: string }>;

  constructor(db: Database.Database) {
    this.load = db.prepare('SELECT highest, bitmap FROM replay_windows WHERE kid = ?');
  }

  get(kid: string): ReplayWindow {
    let window = this.cache.get(kid);
    if (window === undefined) {
      const row = this.load.get(kid);
      window = row === undefined ? new ReplayWindow() : new ReplayWindow({ highest: row.highest, bitmap: row.bitmap });
      this.cache.set(kid, window);
    }
    return window;
  }

  /** Drops cached windows so they are read again from the database (after a failed transaction). */
  forget(kids?: Iterable<string>): void {
    if (kids === undefined) this.cache.clear();
    else for (const kid of kids) this.cache.delete(kid);
  }
}
