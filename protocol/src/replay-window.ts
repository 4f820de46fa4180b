import { MAX_UINT } from './record.js';

/** Counters a window remembers below the highest accepted one, the highest included. */
export const REPLAY_WINDOW_SIZE = 64;

/** The serializable state: the highest accepted counter and a 64-bit bitmap as 16 hex digits. */
export interface ReplayState {
  highest: number;
  /** Bit i (i = 0 is the least significant) set when counter `highest - i` was accepted. */
  bitmap: string;
}

/**
 * The per-device sliding window of IPsec (RFC 4303 §3.4.3) over the record counter: a counter
 * is fresh when it is above the highest accepted one, or within the 64 below it and not yet
 * seen. Persist `state()` in the same transaction as the frame it accepted.
 */
export class ReplayWindow {
  private highest = 0;
  private lo = 0; // bits 0..31
  private hi = 0; // bits 32..63

  constructor(state?: ReplayState) {
    if (state === undefined) return;
    if (state === null || typeof state !== 'object') throw new TypeError('replay state: expected { highest, bitmap }');
    if (!Number.isInteger(state.highest) || state.highest < 0 || state.highest > MAX_UINT) {
      throw new RangeError(`replay state.highest: expected an integer in 0..${MAX_UINT}, got ${String(state.highest)}`);
    }
    if (typeof state.bitmap !== 'string' || !/^[0-9a-f]{16}$/.test(state.bitmap)) {
      throw new RangeError('replay state.bitmap: expected 16 lower-case hex digits');
    }
    this.highest = state.highest;
    this.hi = Number.parseInt(state.bitmap.slice(0, 8), 16) >>> 0;
    this.lo = Number.parseInt(state.bitmap.slice(8), 16) >>> 0;
  }

  /** A window that refuses every counter up to `floor` (a re-provisioned key's counter floor). */
  static fromFloor(floor: number): ReplayWindow {
    return new ReplayWindow({ highest: floor, bitmap: floor === 0 ? '0000000000000000' : 'ffffffffffffffff' });
  }

  /** True when `counter` has not been accepted and is not too old to tell. */
  isFresh(counter: number): boolean {
    if (counter > this.highest) return true;
    const d = this.highest - counter;
    if (d >= REPLAY_WINDOW_SIZE) return false;
    const bit = d < 32 ? (this.lo >>> d) & 1 : (this.hi >>> (d - 32)) & 1;
    return bit === 0;
  }

  /** Records `counter` as accepted; returns false (and changes nothing) when it is not fresh. */
  accept(counter: number): boolean {
    if (!Number.isInteger(counter) || counter < 1 || counter > MAX_UINT) {
      throw new RangeError(`counter: expected an integer in 1..${MAX_UINT}, got ${counter}`);
    }
    if (!this.isFresh(counter)) return false;
    if (counter > this.highest) {
      const shift = counter - this.highest;
      if (shift >= 64) {
        this.hi = 0;
        this.lo = 0;
      } else if (shift >= 32) {
        this.hi = shift === 32 ? this.lo : (this.lo << (shift - 32)) >>> 0;
        this.lo = 0;
      } else {
        this.hi = ((this.hi << shift) | (this.lo >>> (32 - shift))) >>> 0;
        this.lo = (this.lo << shift) >>> 0;
      }
      this.lo = (this.lo | 1) >>> 0;
      this.highest = counter;
    } else {
      const d = this.highest - counter;
      if (d < 32) this.lo = (this.lo | (1 << d)) >>> 0;
      else this.hi = (this.hi | (1 << (d - 32))) >>> 0;
    }
    return true;
  }

  /** The highest accepted counter (0 before any). */
  get highestAccepted(): number {
    return this.highest;
  }

  state(): ReplayState {
    return {
      highest: this.highest,
      bitmap: this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0'),
    };
  }
}

/** Windows by kid (hex). `get` creates an empty window for a kid seen for the first time. */
export interface ReplayWindowStore {
  get(kid: string): ReplayWindow;
}

/** An in-memory `ReplayWindowStore`. */
export class ReplayWindows implements ReplayWindowStore {
  private readonly windows = new Map<string, ReplayWindow>();

  get(kid: string): ReplayWindow {
    let window = this.windows.get(kid);
    if (window === undefined) {
      window = new ReplayWindow();
      this.windows.set(kid, window);
    }
    return window;
  }

  set(kid: string, window: ReplayWindow): void {
    this.windows.set(kid, window);
  }

  entries(): IterableIterator<[string, ReplayWindow]> {
    return this.windows.entries();
  }
}
