import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_UINT, ReplayWindow, ReplayWindows, REPLAY_WINDOW_SIZE } from '@sceau/protocol';

describe('ReplayWindow', () => {
  it('accepts a counter once, accepts late ones within 64, refuses older ones', () => {
    const w = new ReplayWindow();
    expect(w.accept(100)).toBe(true);
    expect(w.accept(100)).toBe(false);
    expect(w.accept(99)).toBe(true);
    expect(w.accept(37)).toBe(true); // 100 - 63
    expect(w.isFresh(36)).toBe(false); // 100 - 64: too old to tell
    expect(w.accept(200)).toBe(true);
    expect(w.isFresh(100)).toBe(false);
    expect(w.highestAccepted).toBe(200);
  });

  it('matches a reference model (a set of seen counters) on random sequences (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 300 }), (counters) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let highest = 0;
        for (const c of counters) {
          const fresh = c > highest || (highest - c < REPLAY_WINDOW_SIZE && !seen.has(c));
          expect(w.accept(c)).toBe(fresh);
          if (fresh) {
            seen.add(c);
            highest = Math.max(highest, c);
          }
          // The state survives serialization at every step.
          const copy = new ReplayWindow(JSON.parse(JSON.stringify(w.state())));
          expect(copy.state()).toEqual(w.state());
        }
      }),
      { seed: 8, numRuns: 300 },
    );
  });

  it('shifts across word boundaries (1, 31, 32, 33, 63, 64, 65)', () => {
    for (const shift of [1, 31, 32, 33, 63, 64, 65]) {
      const w = new ReplayWindow();
      w.accept(10);
      w.accept(10 + shift);
      expect(w.isFresh(10), `shift ${shift}`).toBe(false);
      expect(w.isFresh(11), `shift ${shift}`).toBe(shift > 1 && shift <= 64); // 11 is inside the window up to 74
    }
  });

  it('fromFloor refuses every counter up to the floor', () => {
    const w = ReplayWindow.fromFloor(5000);
    expect(w.isFresh(5000)).toBe(false);
    expect(w.isFresh(4990)).toBe(false);
    expect(w.isFresh(5001)).toBe(true);
    expect(ReplayWindow.fromFloor(0).isFresh(1)).toBe(true);
  });

  it('validates states and counters', () => {
    expect(() => new ReplayWindow({ highest: -1, bitmap: '0000000000000000' })).toThrow(RangeError);
    expect(() => new ReplayWindow({ highest: 1, bitmap: 'zz' })).toThrow(RangeError);
    expect(() => new ReplayWindow().accept(0)).toThrow(RangeError);
    expect(new ReplayWindow({ highest: 70, bitmap: '8000000000000001' }).isFresh(7)).toBe(false);
  });
});

// Rule (RFC 4303 §3.4.3, docs/protocol.md#replay): the window remembers exactly the accepted
// counters among the 64 up to the highest one, as bit i = counter highest - i. The model below is
// that definition; the state a gateway persists must equal it after every step, so a mutant that
// marks or shifts the wrong bit fails at once, not only when that counter comes back.
function modelBitmap(seen: Set<number>, highest: number): string {
  let bits = 0n;
  for (let i = 0; i < REPLAY_WINDOW_SIZE; i++) if (highest - i >= 1 && seen.has(highest - i)) bits |= 1n << BigInt(i);
  return bits.toString(16).padStart(16, '0');
}

describe('ReplayWindow bit by bit', () => {
  it('a late counter at every distance 1..63 sets exactly its bit (the d < 32 / d >= 32 halves)', () => {
    for (let d = 1; d < REPLAY_WINDOW_SIZE; d++) {
      const w = new ReplayWindow();
      w.accept(1000);
      expect(w.accept(1000 - d), `d ${d}`).toBe(true);
      expect(w.state(), `d ${d}`).toEqual({ highest: 1000, bitmap: modelBitmap(new Set([1000, 1000 - d]), 1000) });
      for (let e = 1; e < REPLAY_WINDOW_SIZE; e++) expect(w.isFresh(1000 - e), `d ${d}, e ${e}`).toBe(e !== d);
    }
  });

  it('a jump of every size 1..130 over a full window keeps exactly the counters still inside it', () => {
    for (let shift = 1; shift <= 130; shift++) {
      const w = new ReplayWindow();
      const seen = new Set<number>();
      for (let c = 1; c <= 64; c++) {
        if (c % 3 === 0) continue; // a pattern, so a shift by the wrong amount shows
        w.accept(c);
        seen.add(c);
      }
      expect(w.accept(64 + shift)).toBe(true);
      seen.add(64 + shift);
      expect(w.state(), `shift ${shift}`).toEqual({ highest: 64 + shift, bitmap: modelBitmap(seen, 64 + shift) });
      for (let c = 1; c <= 64 + shift; c++) {
        const inside = 64 + shift - c < REPLAY_WINDOW_SIZE;
        expect(w.isFresh(c), `shift ${shift}, counter ${c}`).toBe(inside && !seen.has(c));
      }
    }
  });

  it('accepts each counter at most once whatever the order of arrival, and its state is the model (property)', () => {
    // Arrivals near the highest counter (late, early, repeated), where the window does its work.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -80, max: 40 }), { minLength: 1, maxLength: 200 }), (steps) => {
        const w = new ReplayWindow();
        const seen = new Set<number>();
        let highest = 0;
        let accepted = 0;
        for (const step of steps) {
          const c = Math.max(1, highest + step);
          const fresh = c > highest || (highest - c < REPLAY_WINDOW_SIZE && !seen.has(c));
          expect(w.isFresh(c)).toBe(fresh);
          expect(w.accept(c)).toBe(fresh);
          if (fresh) {
            seen.add(c);
            accepted++;
            highest = Math.max(highest, c);
          }
          expect(w.state()).toEqual({ highest, bitmap: modelBitmap(seen, highest) });
        }
        expect(accepted).toBe(seen.size); // never the same counter twice
      }),
      { seed: 19, numRuns: 400 },
    );
  });

  it('a state read back reads the upper half of the bitmap too', () => {
    const w = new ReplayWindow({ highest: 100, bitmap: '8000000100000001' }); // 100, 68 and 37
    expect([w.isFresh(100), w.isFresh(68), w.isFresh(37), w.isFresh(69), w.isFresh(38), w.isFresh(36)]).toEqual([false, false, false, true, true, false]);
    expect(w.accept(69)).toBe(true);
    expect(w.state().bitmap).toBe('8000000180000001');
  });

  it('fromFloor(0) is an empty window; fromFloor(n) marks the whole window below n', () => {
    expect(ReplayWindow.fromFloor(0).state()).toEqual({ highest: 0, bitmap: '0000000000000000' });
    expect(ReplayWindow.fromFloor(7).state()).toEqual({ highest: 7, bitmap: 'ffffffffffffffff' });
    expect(new ReplayWindow().state()).toEqual({ highest: 0, bitmap: '0000000000000000' });
  });

  it('rule "counters are 1..2^32-1" and "a persisted state is { highest, 16 lower-case hex digits }": each bound on its own', () => {
    const w = new ReplayWindow();
    expect(() => w.accept(MAX_UINT + 1)).toThrow(`counter: expected an integer in 1..${MAX_UINT}, got ${MAX_UINT + 1}`);
    expect(() => w.accept(1.5)).toThrow(RangeError);
    expect(w.accept(MAX_UINT)).toBe(true);
    expect(w.accept(MAX_UINT)).toBe(false);
    expect(() => new ReplayWindow(null as never)).toThrow(new TypeError('replay state: expected { highest, bitmap }'));
    expect(() => new ReplayWindow('x' as never)).toThrow(TypeError);
    const zero = '0000000000000000';
    expect(() => new ReplayWindow({ highest: MAX_UINT + 1, bitmap: zero })).toThrow(`replay state.highest: expected an integer in 0..${MAX_UINT}, got ${MAX_UINT + 1}`);
    expect(() => new ReplayWindow({ highest: 1.5, bitmap: zero })).toThrow(RangeError);
    expect(new ReplayWindow({ highest: MAX_UINT, bitmap: zero }).highestAccepted).toBe(MAX_UINT);
    expect(new ReplayWindow({ highest: 0, bitmap: zero }).highestAccepted).toBe(0);
    for (const bitmap of ['000000000000000', '00000000000000000', '000000000000000A', 'x0000000000000000', '0000000000000000x', 1 as never, 1234567890123456 as never]) {
      expect(() => new ReplayWindow({ highest: 1, bitmap }), String(bitmap)).toThrow(new RangeError('replay state.bitmap: expected 16 lower-case hex digits'));
    }
    expect(new ReplayWindow({ highest: 70, bitmap: '0123456789abcdef' }).state()).toEqual({ highest: 70, bitmap: '0123456789abcdef' });
  });
});

describe('ReplayWindows (in-memory store)', () => {
  it('creates one window per kid, keeps it, and lets a window be replaced', () => {
    const store = new ReplayWindows();
    const a = store.get('aa');
    expect(a.accept(5)).toBe(true);
    expect(store.get('aa')).toBe(a);
    expect(store.get('bb').isFresh(5)).toBe(true);
    store.set('bb', ReplayWindow.fromFloor(9));
    expect(store.get('bb').isFresh(9)).toBe(false);
    expect([...store.entries()].map(([kid, w]) => [kid, w.highestAccepted])).toEqual([['aa', 5], ['bb', 9]]);
  });
});
