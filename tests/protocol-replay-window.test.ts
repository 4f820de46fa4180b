import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayWindow, REPLAY_WINDOW_SIZE } from '@sceau/protocol';

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
