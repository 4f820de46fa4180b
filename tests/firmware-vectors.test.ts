// The firmware's own CBOR writer, SHA-2 and Ed25519, run inside the DeviceScript VM, must give
// byte for byte the RFC 8032 signatures and the golden frames of protocol/vectors/frames.json.
// All cases go through one build and one VM run (`runVectors`), which is what
// `npm run -w firmware vectors` does.
import { createHash, createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, linkProfile } from '@sceau/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { runVectors } from '../firmware/scripts/vectors.mjs';

const root = join(import.meta.dirname, '..');
// record version 2 (protocol/vectors/frames-v2.json): the same input plus a content key
const framesV2 = JSON.parse(readFileSync(join(root, 'protocol', 'vectors', 'frames-v2.json'), 'utf8')).positive as {
  name: string; seed: string; contentKey: string; record: unknown[]; kid: boolean; frame: string;
}[];
// RFC 8032 section 7.1, as committed in protocol/vectors (the same file as the shared design's copy)
const rfc = JSON.parse(readFileSync(join(root, 'protocol', 'vectors', 'rfc8032.json'), 'utf8')).vectors as {
  name: string; secretKey: string; publicKey: string; message: string; signature: string;
}[];
const framesFile = join(root, 'protocol', 'vectors', 'frames.json');
const frames = JSON.parse(readFileSync(framesFile, 'utf8')).positive as {
  name: string; seed: string; record: unknown[]; kid: boolean; frame: string;
}[];

// Records encoded by hand from the design (core deterministic CBOR), checked independently of
// @sceau/protocol: the payload bytes are written out here, the signature checked by node:crypto.
const seedH = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
const manyReadings = Array.from({ length: 200 }, (_, i): [number, number] => [1, 100000 + i]);
const byHand = [
  { name: 'one reading', record: [1, 1, null, [[1, 2150]]], kid: true, payload: '840101f6818201190866' },
  {
    name: 'ages, negatives, 32-bit extremes, no kid',
    record: [1, 4294967295, 1700000000, [[1, -2150, 600], [2, 4500], [32, 7, 0], [3, -4294967296]]],
    kid: false,
    payload: '84011affffffff1a6553f1008483013908651902588202191194821820078203' + '3affffffff',
  },
  {
    name: '200 readings (multi-block hashing, 2-byte bstr length)',
    record: [1, 24, null, manyReadings],
    kid: true,
    payload: '840118' + '18f6' + '98c8' + manyReadings.map(([, v]) => '82011a' + v.toString(16).padStart(8, '0')).join(''),
  },
];

const pkcs8 = (seed: string) =>
  createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed, 'hex')]), format: 'der', type: 'pkcs8' });
const rawPublic = (seed: string) => createPublicKey(pkcs8(seed)).export({ format: 'der', type: 'spki' }).subarray(12);
const bstrHead = (n: number) => (n < 24 ? (0x40 + n).toString(16) : n < 256 ? '58' + n.toString(16).padStart(2, '0') : '59' + n.toString(16).padStart(4, '0'));

// fragments.json: the datagrams of a frame on each link profile (tag = counter mod 8, hint = first
// two bytes of the kid where the profile does not name the sender)
const fragmentVectors = JSON.parse(readFileSync(join(root, 'protocol', 'vectors', 'fragments.json'), 'utf8')).vectors as {
  profile: string; frame: string; datagrams: string[];
}[];
// The record counter, read from the frame's bytes by the layout of docs/protocol.md#frame, not
// from the expected datagrams: 'd28443a10127' + ('a10448' + kid | 'a0') + payload bstr head, then
// the record `84 01 <counter>`.
function counterOf(frameHex: string): number {
  const b = fromHex(frameHex);
  let at = b[6] === 0xa0 ? 7 : 17;
  at += b[at]! < 0x58 ? 1 : b[at] === 0x58 ? 2 : 3; // the payload's bstr head
  if (b[at] !== 0x84 || b[at + 1] !== 0x01) throw new Error(`${frameHex}: not a v1 record`);
  const head = b[at + 2]!;
  if (head < 0x18) return head;
  const width = { 0x18: 1, 0x19: 2, 0x1a: 4 }[head];
  if (width === undefined) throw new Error(`${frameHex}: counter head ${head}`);
  let n = 0;
  for (let i = 0; i < width; i++) n = n * 256 + b[at + 3 + i]!;
  return n;
}
const fragmentCases = fragmentVectors.map(v => {
  const p = linkProfile(v.profile)!;
  // Rule (docs/protocol.md#fragments): a frame is cut only when it exceeds the MTU, and its
  // message tag is the record counter mod 8.
  const whole = v.frame.length / 2 <= p.mtu;
  const tag = whole ? 0 : counterOf(v.frame) % 8;
  const kidAt = v.frame.indexOf('a10448');
  const hint = p.identifiesSender ? null : v.frame.slice(kidAt + 6, kidAt + 10);
  return { fragment: v.frame, mtu: p.mtu, tag, hint };
});

let results: { frame?: string; publicKey?: string; signature?: string; datagrams?: string[] }[] = [];
const cases = [
  ...rfc.map(v => ({ seed: v.secretKey, message: v.message })),
  ...frames.map(f => ({ seed: f.seed, record: f.record, kid: f.kid })),
  ...byHand.map(h => ({ seed: seedH, record: h.record, kid: h.kid })),
  ...fragmentCases,
  ...framesV2.map(f => ({ seed: f.seed, record: f.record, kid: f.kid, contentKey: f.contentKey })),
];
const v2At = cases.length - framesV2.length;

beforeAll(async () => {
  results = await runVectors(cases);
}, 60_000);

describe('firmware in the DeviceScript VM', () => {
  describe('RFC 8032 section 7.1 (raw message signing)', () => {
    rfc.forEach((v, i) => {
      it(v.name, () => {
        expect(results[i]!.publicKey).toBe(v.publicKey);
        expect(results[i]!.signature).toBe(v.signature);
      });
    });
  });

  describe('protocol/vectors/frames.json positive frames, byte for byte', () => {
    frames.forEach((f, i) => {
      it(f.name, () => {
        expect(results[rfc.length + i]!.frame).toBe(f.frame);
      });
    });
  });

  describe('protocol/vectors/frames-v2.json (record version 2: HKDF, AES-256-CCM with AAD, COSE_Encrypt0), byte for byte', () => {
    framesV2.forEach((f, i) => {
      it(f.name, () => {
        expect(results[v2At + i]!.frame).toBe(f.frame);
      });
    });
  });

  describe('records encoded by hand, signatures checked with node:crypto', () => {
    byHand.forEach((h, i) => {
      it(h.name, () => {
        const frame = results[rfc.length + frames.length + i]!.frame!;
        const pub = rawPublic(seedH);
        const kid = createHash('sha256').update(pub).digest('hex').slice(0, 16);
        const payloadBstr = bstrHead(h.payload.length / 2) + h.payload;
        const head = 'd28443a10127' + (h.kid ? 'a10448' + kid : 'a0');
        expect(frame.slice(0, head.length)).toBe(head);
        expect(frame.slice(head.length, head.length + payloadBstr.length)).toBe(payloadBstr);
        expect(frame.slice(head.length + payloadBstr.length, head.length + payloadBstr.length + 4)).toBe('5840');
        expect(frame.length).toBe(head.length + payloadBstr.length + 4 + 128);
        const sig = Buffer.from(frame.slice(-128), 'hex');
        const sigStructure = Buffer.from('846a5369676e61747572653143a1012740' + payloadBstr, 'hex');
        const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
        expect(verify(null, sigStructure, spki, sig)).toBe(true);
      });
    });
  });

  describe('protocol/vectors/fragments.json, datagrams byte for byte', () => {
    it('the vectors themselves follow the tag rule (counter mod 8, read from the frame) and cut only above the MTU', () => {
      let fragmented = 0;
      for (const [i, v] of fragmentVectors.entries()) {
        expect(v.datagrams.length === 1, v.profile).toBe(v.frame.length / 2 <= fragmentCases[i]!.mtu);
        if (v.datagrams.length === 1) continue;
        fragmented++;
        for (const d of v.datagrams) expect(fromHex(d)[0]! >> 4, v.profile).toBe(fragmentCases[i]!.tag);
      }
      expect(fragmented).toBeGreaterThan(0);
    });

    fragmentVectors.forEach((v, i) => {
      it(`${v.profile} (${v.datagrams.length} datagram${v.datagrams.length > 1 ? 's' : ''})`, () => {
        expect(results[rfc.length + frames.length + byHand.length + i]!.datagrams).toEqual(v.datagrams);
      });
    });
  });
});
