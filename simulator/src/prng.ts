import { sha256 } from '@sceau/protocol';

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, from PractRand): 128 bits of
 * state, passes PractRand/BigCrush, and is four 32-bit operations per draw. Every random choice
 * of the simulator comes from one of these, seeded from the run's seed and a stream name, so a
 * run is a pure function of its seed and options.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    for (let i = 0; i < 12; i++) this.nextUint32(); // mix the seed through
  }

  /** A generator seeded from SHA-256 of `seed` and a stream name (independent streams per use). */
  static from(seed: string, stream: string): Prng {
    const h = sha256(new TextEncoder().encode(`sceau-sim/v1|${seed}|${stream}`));
    const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
    return new Prng(v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12) | 1);
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** True with probability p. Draws nothing when p is 0, so adding an impairment of 0 changes no stream. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    return this.float() < p;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** 32 random bytes (attack keys, forged signatures). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const x = this.nextUint32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (x >>> (8 * j)) & 0xff;
    }
    return out;
  }
}
