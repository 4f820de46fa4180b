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
const manyReadings = Array.from({ length: 200 }, (_, i) => [1, 100000 + i]);
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
const fragmentCases = fragmentVectors.map(v => {
  const p = linkProfile(v.profile)!;
  const first = fromHex(v.datagrams[0]!);
  const whole = v.datagrams.length === 1;
  const tag = whole ? 0 : (first[0]! >> 4) & 7;
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
];

beforeAll(async () => {
  results = await runVectors(cases);
}, 60_000);

describe('firmware in the DeviceScript VM', () => {
  describe('RFC 8032 section 7.1 (raw message signing)', () => {
    rfc.forEach((v, i) => {
      it(v.name, () => {
        expect(results[i].publicKey).toBe(v.publicKey);
        expect(results[i].signature).toBe(v.signature);
      });
    });
  });

  describe('protocol/vectors/frames.json positive frames, byte for byte', () => {
    frames.forEach((f, i) => {
      it(f.name, () => {
        expect(results[rfc.length + i].frame).toBe(f.frame);
      });
    });
  });

  describe('records encoded by hand, signatures checked with node:crypto', () => {
    byHand.forEach((h, i) => {
      it(h.name, () => {
        const frame = results[rfc.length + frames.length + i].frame!;
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
    fragmentVectors.forEach((v, i) => {
      it(`${v.profile} (${v.datagrams.length} datagram${v.datagrams.length > 1 ? 's' : ''})`, () => {
        expect(results[rfc.length + frames.length + byHand.length + i].datagrams).toEqual(v.datagrams);
      });
    });
  });
});
