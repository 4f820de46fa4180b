import { type Bytes, type LinkProfile, airtimeMs, fragment, getPublicKey, kidOf, linkProfile, sealRecord, toHex } from '@sceau/protocol';
import { ATTACK_KINDS, type AttackKind, type AttackRates } from './config.js';
import type { Prng } from './prng.js';

/** Offset of the kid in a frame sealed with kid: d2 84 43 a1 01 27 a1 04 48 <kid>. */
const KID_OFFSET = 9;

/** Where the payload and signature of a sealed frame with kid start: everything a bit flip may hit without changing the CBOR structure. */
function tamperRange(frame: Bytes, withKid: boolean): { from: number; to: number } {
  const headAt = withKid ? 17 : 7;
  const h = frame[headAt]!;
  const head = h <= 0x57 ? 1 : h === 0x58 ? 2 : 3;
  const payloadFrom = headAt + head;
  const sigFrom = frame.length - 64;
  return { from: payloadFrom, to: sigFrom + 64 };
}

/** A copy of `frame` with one bit flipped in its payload or signature: the CBOR stays well-formed, the signature no longer holds. */
export function tamperFrame(frame: Bytes, withKid: boolean, rng: Prng): Bytes {
  const out = frame.slice();
  const { from, to } = tamperRange(frame, withKid);
  let at = from + rng.int(to - from);
  // The two bytes between payload and signature are the signature's bstr head: skip them.
  if (at === to - 66 || at === to - 65) at = to - 1;
  out[at]! ^= 1 << rng.int(8);
  return out;
}

/** A frame that carries `victimKid` but was sealed with another key: `bad-signature` at the gateway. */
export function frameUnderVictimKid(record: Parameters<typeof sealRecord>[0], key: Bytes, victimKid: Bytes): Bytes {
  const frame = sealRecord(record, key, { kid: true });
  frame.set(victimKid, KID_OFFSET);
  return frame;
}

export interface AttackFrame {
  kind: AttackKind;
  frame: Bytes;
  /** The kid the frame claims (hex). */
  kid: string;
  /** What the gateway should answer, for the docs and the report: a code or a set of them. */
  expected: string;
}

/** One datagram of an attack as the attacker puts it on the air. */
export interface AttackTransmission {
  at: number;
  datagram: Bytes;
  airtimeMs: number;
}

/**
 * The attacks a genuine frame sealed at `t` draws: each kind with its rate, at a random time in
 * the next 1 s to 10 min 1 s (time for the frame to be sent and accepted first).
 */
export function drawAttacks(rates: AttackRates, rng: Prng, t: number): Array<{ at: number; kind: AttackKind }> {
  const out: Array<{ at: number; kind: AttackKind }> = [];
  for (const kind of ATTACK_KINDS) {
    if (rates[kind] > 0 && rng.chance(rates[kind])) out.push({ at: t + 1000 + Math.floor(rng.float() * 600_000), kind });
  }
  return out;
}

/**
 * The attacker's keys: one outside the fleet (never registered), fixed by the seed.
 */
export class Attacker {
  readonly outsiderKey: Bytes;
  readonly outsiderKid: Bytes;
  private serial = 0;

  constructor(private readonly rng: Prng) {
    this.outsiderKey = rng.bytes(32);
    this.outsiderKid = kidOf(getPublicKey(this.outsiderKey));
  }

  /** A unique transport source per injected attack, so attack fragments never mix with anyone's. */
  nextSource(): string {
    return `attacker:${++this.serial}`;
  }

  /** Cuts an attack frame into the datagrams of `link` (random tag; hint from the claimed kid). */
  datagrams(frame: Bytes, link: string, kid: Bytes): Bytes[] {
    const profile = linkProfile(link);
    return fragment(frame, profile, { tag: this.rng.int(8), hint: kid.subarray(0, 2) });
  }

  /**
   * An attack frame's datagrams on `profile`'s link from `t`, back to back (1 ms apart), from a
   * fresh source. The attacker sits next to the gateway: no loss, and no duty cycle of the victim's.
   */
  transmissions(frame: Bytes, profile: LinkProfile, t: number): { source: string; sends: AttackTransmission[] } {
    const source = this.nextSource();
    const sends: AttackTransmission[] = [];
    let at = t;
    for (const datagram of this.datagrams(frame, profile.name, frame.subarray(KID_OFFSET, KID_OFFSET + 8))) {
      const air = airtimeMs(profile, datagram.length);
      sends.push({ at, datagram, airtimeMs: air });
      at = Math.ceil(at + air) + 1;
    }
    return { source, sends };
  }

  build(
    kind: AttackKind,
    victim: { kid: Bytes; lastSent: Bytes | null; lastDelivered: Bytes | null; nextCounter: number; withKid: boolean },
    otherKey: Bytes,
    time: number | null,
  ): AttackFrame | undefined {
    const rng = this.rng;
    const kidHex = toHex(victim.kid);
    const fresh = { version: 1 as const, counter: victim.nextCounter + 1 + rng.int(1000), time, readings: [{ channel: 1, value: 5000 + rng.int(5000) }] };
    switch (kind) {
      case 'replay':
        // Only frames the gateway has accepted: re-sending a frame it never got is relaying, not replaying.
        if (victim.lastDelivered === null) return undefined;
        return { kind, frame: victim.lastDelivered.slice(), kid: kidHex, expected: 'replay' };
      case 'tamper':
        if (victim.lastSent === null) return undefined;
        return { kind, frame: tamperFrame(victim.lastSent, victim.withKid, rng), kid: kidHex, expected: 'bad-signature' };
      case 'forge': {
        // A record in the victim's name with a fresh counter, signed by a key the attacker made up.
        return { kind, frame: frameUnderVictimKid(fresh, this.outsiderKey, victim.kid), kid: kidHex, expected: 'bad-signature' };
      }
      case 'wrong-key': {
        // Half the time a genuine key of another fleet device under the victim's kid (bad-signature),
        // half the time a well-formed frame under a key nobody registered (unknown-kid).
        if (rng.chance(0.5)) return { kind, frame: frameUnderVictimKid(fresh, otherKey, victim.kid), kid: kidHex, expected: 'bad-signature' };
        return { kind, frame: sealRecord(fresh, this.outsiderKey, { kid: true }), kid: toHex(this.outsiderKid), expected: 'unknown-kid' };
      }
    }
  }
}
