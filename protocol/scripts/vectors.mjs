// Builds the golden vectors in protocol/vectors/ from @sceau/protocol (the spec's reference
// encoder). `node protocol/scripts/generate-vectors.mjs` writes them; a test fails when the
// checked-in files differ from what this builds, so they can never go stale.
import {
  CborWriter, PROTECTED_EDDSA, concatBytes, encodeRecord, fragment, fromHex, getPublicKey, kidOf, linkProfiles,
  sealRecord, sha256, sigStructure, signEd25519, toHex, ReplayWindow,
  contentBaseIv, contentNonce, encodeRecordV2, parseCbor, readingsAad, sealRecordV2,
} from '@sceau/protocol';

const text = (s) => Uint8Array.from(Buffer.from(s, 'utf8'));
/** Vector keys are derived, not random: seed i = SHA-256("sceau vector key i"). */
export const seedOf = (i) => sha256(text(`sceau vector key ${i}`));

export function keySet() {
  return [0, 1, 2, 3].map((i) => {
    const seed = seedOf(i);
    const publicKey = getPublicKey(seed);
    return {
      name: ['device-a', 'device-b', 'device-revoked', 'device-lorawan'][i],
      seed: toHex(seed),
      publicKey: toHex(publicKey),
      kid: toHex(kidOf(publicKey)),
      revoked: i === 2,
      deviceIds: i === 3 ? ['deveui:0004a30b001c0530'] : [],
    };
  });
}

const recordOf = ([version, counter, time, readings]) => ({
  version,
  counter,
  time,
  readings: readings.map(([channel, value, age]) => (age === undefined ? { channel, value } : { channel, value, age })),
});

function positives(keys) {
  const cases = [
    ['three readings, kid, no clock', 0, [1, 1, null, [[1, 2150], [2, 4530], [5, 3012]]], true],
    ['wall clock time and batched ages', 0, [1, 2, 1764331200, [[1, 2150, 1200], [1, 2162, 600], [1, 2171]]], true],
    ['without kid (LoRaWAN, device named by DevEUI)', 3, [1, 7, null, [[1, -1250], [2, 9999]]], false],
    ['negative and boundary values', 1, [1, 23, 24, [[1, -24], [1, -25], [3, 255], [3, 256], [3, 65535], [3, 65536]]], true],
    ['integer extremes', 1, [1, 4294967295, 4294967295, [[4294967295, 4294967295, 4294967295], [200, -4294967296]]], true],
    ['boot reading after reset', 0, [1, 100, null, [[32, 3]]], true],
    ['record under 24 bytes', 1, [1, 5, null, [[13, 1]]], true],
    ['a batch of twelve readings', 0, [1, 65536, null, Array.from({ length: 12 }, (_, i) => [i % 2 === 0 ? 1 : 2, 2000 + i * 7, 600 * (11 - i)])], true],
    ['user channel', 1, [1, 9, null, [[128, 42], [65535, 7, 30]]], true],
  ];
  return cases.map(([name, keyIndex, record, kid]) => {
    const key = keys[keyIndex];
    const frame = sealRecord(recordOf(record), fromHex(key.seed), { kid });
    return { name, key: key.name, seed: key.seed, record, kid, frame: toHex(frame) };
  });
}

/** A COSE_Sign1 assembled by hand, signed over its own protected bytes and payload. */
function handSealed({ seed, protectedBytes = PROTECTED_EDDSA, unprotected, payload, tag = 18, signature }) {
  const sig = signature ?? signEd25519(seed, sigStructure(protectedBytes, new Uint8Array(0), payload));
  const w = new CborWriter();
  if (tag !== null) w.tag(tag);
  w.array(4).bytes(protectedBytes);
  if (unprotected === undefined) w.map(0);
  else w.raw(unprotected);
  return w.bytes(payload).bytes(sig).finish();
}
const kidMap = (kidHex) => concatBytes(Uint8Array.of(0xa1, 0x04, 0x48), fromHex(kidHex));

function negatives(keys) {
  const [a, b, revoked] = keys;
  const seedA = fromHex(a.seed);
  const seedB = fromHex(b.seed);
  const goodRecord = recordOf([1, 10, null, [[1, 2150], [2, 4530]]]);
  const good = sealRecord(goodRecord, seedA);
  const goodHex = toHex(good);
  const payload = encodeRecord(goodRecord);
  const withPayload = (p, seed = seedA, kid = a.kid) => handSealed({ seed, unprotected: kidMap(kid), payload: p });
  const flip = (bytes, index, bit = 1) => {
    const copy = bytes.slice();
    copy[index] ^= bit;
    return copy;
  };
  const big = sealRecord(recordOf([1, 11, null, Array.from({ length: 400 }, (_, i) => [1, 100000 + i])]), seedA);
  const sOffset = good.length - 32;
  const sPlusL = (() => {
    // S + L: same signature value modulo L, non-canonical encoding (strict RFC 8032 refuses it).
    const copy = good.slice();
    const L = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const v = copy[sOffset + i] + L[i] + carry;
      copy[sOffset + i] = v & 0xff;
      carry = v >> 8;
    }
    return copy;
  })();
  const seenState = (() => {
    const w = new ReplayWindow();
    w.accept(10);
    return w.state();
  })();
  const list = [
    ['too-large', 'frame over the 2048-byte limit', big],
    ['malformed-cbor', 'truncated by one byte', good.subarray(0, good.length - 1)],
    ['malformed-cbor', 'trailing byte after the frame', concatBytes(good, Uint8Array.of(0))],
    ['malformed-cbor', 'empty input', new Uint8Array(0)],
    ['malformed-cbor', 'reserved additional information 28', Uint8Array.of(0xd2, 0x84, 0x1c, 0, 0, 0)],
    ['non-canonical', 'signature length in a two-byte head (59 0040)',
      concatBytes(good.subarray(0, good.length - 66), Uint8Array.of(0x59, 0x00, 0x40), good.subarray(good.length - 64))],
    ['non-canonical', 'indefinite-length array', concatBytes(Uint8Array.of(0xd2, 0x9f), good.subarray(2), Uint8Array.of(0xff))],
    ['non-canonical', 'duplicate key in the unprotected map',
      handSealed({ seed: seedA, unprotected: concatBytes(Uint8Array.of(0xa2, 0x04, 0x48), fromHex(a.kid), Uint8Array.of(0x04, 0x48), fromHex(a.kid)), payload })],
    ['not-sign1', 'tag 98 (COSE_Sign) instead of 18', concatBytes(Uint8Array.of(0xd8, 0x62), good.subarray(1))],
    ['not-sign1', 'untagged', good.subarray(1)],
    ['not-sign1', 'array of three', concatBytes(Uint8Array.of(0xd2, 0x83), good.subarray(2, good.length - 66))],
    ['not-sign1', 'kid of 7 bytes', handSealed({ seed: seedA, unprotected: concatBytes(Uint8Array.of(0xa1, 0x04, 0x47), fromHex(a.kid).subarray(0, 7)), payload })],
    ['not-sign1', 'unprotected label other than kid', handSealed({ seed: seedA, unprotected: concatBytes(Uint8Array.of(0xa2, 0x03, 0x00, 0x04, 0x48), fromHex(a.kid)), payload })],
    ['bad-protected-header', 'protected is not a map', handSealed({ seed: seedA, protectedBytes: Uint8Array.of(0x27), unprotected: kidMap(a.kid), payload })],
    ['bad-protected-header', 'protected header with content type too', handSealed({ seed: seedA, protectedBytes: Uint8Array.of(0xa2, 0x01, 0x27, 0x03, 0x00), unprotected: kidMap(a.kid), payload })],
    ['bad-protected-header', 'protected header not deterministic (alg in a one-byte head)', handSealed({ seed: seedA, protectedBytes: Uint8Array.of(0xa1, 0x18, 0x01, 0x27), unprotected: kidMap(a.kid), payload })],
    ['bad-protected-header', 'crit names an unknown label', handSealed({ seed: seedA, protectedBytes: Uint8Array.of(0xa2, 0x01, 0x27, 0x02, 0x81, 0x18, 0x63), unprotected: kidMap(a.kid), payload })],
    ['bad-protected-header', 'duplicate label in the protected header', handSealed({ seed: seedA, protectedBytes: Uint8Array.of(0xa2, 0x01, 0x27, 0x01, 0x27), unprotected: kidMap(a.kid), payload })],
    ['unsupported-alg', 'ES256 (-7)', handSealed({ seed: seedA, protectedBytes: Uint8Array.of(0xa1, 0x01, 0x26), unprotected: kidMap(a.kid), payload })],
    ['unsupported-alg', 'no alg (empty protected header)', handSealed({ seed: seedA, protectedBytes: new Uint8Array(0), unprotected: kidMap(a.kid), payload })],
    ['unknown-kid', 'kid not in the keyring', withPayload(payload, seedA, '0011223344556677')],
    ['unknown-kid', 'no kid and no device named by the transport', sealRecord(goodRecord, seedA, { kid: false })],
    ['key-revoked', 'signed by a revoked key', sealRecord(goodRecord, fromHex(revoked.seed))],
    ['bad-signature', 'one bit of the signature flipped', flip(good, good.length - 1)],
    ['bad-signature', 'one bit of the payload flipped', flip(good, 20, 0x02)],
    ['bad-signature', 'S + L (non-canonical scalar)', sPlusL],
    ['bad-signature', "another device's signature under device-a's kid", withPayload(payload, seedB, a.kid)],
    ['bad-record', 'float reading value (21.5 as a half float)', withPayload(fromHex('84010af6818201f94d60'))],
    ['bad-record', 'explicit age 0', withPayload(fromHex('84010af681830119086600'))],
    ['bad-record', 'counter 0', withPayload(fromHex('840100f6818201190866'))],
    ['bad-record', 'no readings', withPayload(fromHex('84010af680'))],
    ['bad-record', 'value beyond 2^32 (8-byte integer)', withPayload(fromHex('84010af68182011b0000000100000000'))],
    ['bad-record', 'non-shortest integer in the payload', withPayload(fromHex('8401180af6818201190866'))],
    ['bad-record', 'map instead of a record', withPayload(fromHex('a10101'))],
    ['unsupported-version', 'record version 2', withPayload(fromHex('84020af6818201190866'))],
    ['replay', 'counter already accepted', good, { replay: seenState }],
    ['replay', 'counter older than the 64-counter window', good, { replay: { highest: 100, bitmap: '0000000000000001' } }],
  ];
  return list.map(([code, name, frame, context = {}]) => ({ name, code, frame: toHex(frame), ...context }));
}

/** The fragments of one frame on every link profile. */
function fragmentVectors(keys) {
  const a = keys[0];
  const record = recordOf([1, 42, null, [[1, 2150], [2, 4530], [5, 3012], [3, 101325]]]);
  const frame = sealRecord(record, fromHex(a.seed));
  const frameNoKid = sealRecord(record, fromHex(keys[3].seed), { kid: false });
  return Object.values(linkProfiles).flatMap((profile) => {
    const out = [{ profile: profile.name, frame: toHex(frame), datagrams: fragment(frame, profile).map(toHex) }];
    if (profile.identifiesSender) out.push({ profile: profile.name, frame: toHex(frameNoKid), datagrams: fragment(frameNoKid, profile).map(toHex) });
    return out;
  });
}

/** RFC 8949 Appendix A items within sceau's wire subset (ints within ±2^32, bytes, arrays, null). */
function cborVectors(appendixA) {
  const inSubset = (v) =>
    v === null ||
    (Number.isInteger(v) && v >= -(2 ** 32) && v <= 2 ** 32 - 1) ||
    (Array.isArray(v) && v.every(inSubset));
  const items = [];
  for (const item of appendixA) {
    if (!item.roundtrip) continue;
    if (item.hex >= 'e0' && item.hex !== 'f6') continue; // floats and simple values other than null
    if ('decoded' in item && inSubset(item.decoded) && typeof item.decoded !== 'boolean') items.push({ hex: item.hex, value: item.decoded });
    else if ('diagnostic' in item && /^h'[0-9a-f]*'$/.test(item.diagnostic)) items.push({ hex: item.hex, value: { bytes: item.diagnostic.slice(2, -1) } });
  }
  return items;
}

/** Content keys are derived too: content key i = SHA-256("sceau vector content key i"). */
export const contentKeyOf = (i) => sha256(text(`sceau vector content key ${i}`));

/** Record version 2: the same records sealed with each device's content key. */
function privateFrames(keys) {
  const cases = [
    ['temperature, humidity and battery', 0, [2, 1, null, [[1, 2150], [2, 4530], [5, 3012]]], true],
    ['wall clock time and batched ages', 0, [2, 2, 1764331200, [[1, 2150, 1200], [1, 2162, 600], [1, 2171]]], true],
    ['without kid (LoRaWAN, device named by DevEUI): the kid is still in the AAD', 3, [2, 7, null, [[1, -1250], [2, 9999]]], false],
    ['boot reading only: an empty encrypted list', 0, [2, 100, null, [[32, 3]]], true],
    ['boot, dropped and a reading at the integer extremes', 1, [2, 4294967295, 4294967295, [[32, 1], [33, 12], [1, -4294967296, 4294967295]]], true],
    ['a batch of twelve readings (ciphertext over 24 bytes)', 0, [2, 65536, null, Array.from({ length: 12 }, (_, i) => [i % 2 === 0 ? 1 : 2, 2000 + i * 7, 600 * (11 - i)])], true],
    ['user channels and battery in between', 1, [2, 9, null, [[128, 42], [5, 2900], [65535, 7, 30]]], true],
  ];
  return cases.map(([name, keyIndex, record, kid]) => {
    const key = keys[keyIndex];
    const contentKey = contentKeyOf(keyIndex);
    const plain = recordOf(record);
    const frame = sealRecordV2(plain, fromHex(key.seed), contentKey, { kid });
    const payload = encodeRecordV2(plain, contentKey, key.kid);
    const item = parseCbor(payload).item;
    const baseIv = contentBaseIv(contentKey);
    return {
      name, key: key.name, seed: key.seed, contentKey: toHex(contentKey), record, kid,
      baseIv: toHex(baseIv),
      nonce: toHex(contentNonce(baseIv, plain.counter)),
      externalAad: toHex(readingsAad(fromHex(key.kid), plain.counter, plain.time)),
      clearReadings: toHex(payload.subarray(item.items[3].start, item.items[3].end)),
      encrypt0: toHex(payload.subarray(item.items[4].start, item.items[4].end)),
      frame: toHex(frame),
    };
  });
}

function privateNegatives(keys) {
  const a = keys[0];
  const seedA = fromHex(a.seed);
  const plain = recordOf([2, 10, null, [[1, 2150], [5, 3012]]]);
  const good = sealRecordV2(plain, seedA, contentKeyOf(0));
  const payload = encodeRecordV2(plain, contentKeyOf(0), a.kid);
  const item = parseCbor(payload).item;
  const encrypted = payload.subarray(item.items[4].start);
  const ciphertext = item.items[4].item.items[2].value;
  const signed = (p) => handSealed({ seed: seedA, unprotected: kidMap(a.kid), payload: p });
  const encrypt0 = (protectedHex, unprotectedHex, ct = ciphertext) => new CborWriter().tag(16).array(3).bytes(fromHex(protectedHex)).raw(fromHex(unprotectedHex)).bytes(ct).finish();
  const head = fromHex('85020af6');
  const flipped = good.slice();
  flipped[good.length - 70] ^= 0x01; // in the ciphertext
  const wrongKey = contentKeyOf(0).slice();
  wrongKey[0] ^= 0x80;
  const list = [
    ['bad-record', 'a non-operational channel (1) in clear', signed(concatBytes(head, fromHex('8282011908668205190bc4'), encrypted))],
    ['bad-record', 'an IV in the unprotected header', signed(concatBytes(head, fromHex('818205190bc4'), encrypt0('a1010b', 'a1054d000000000000000000000000000a')))],
    ['bad-record', 'AES-CCM-16-64-128 (10) instead of 11', signed(concatBytes(head, fromHex('818205190bc4'), encrypt0('a1010a', 'a0')))],
    ['bad-record', 'COSE_Encrypt0 untagged', signed(concatBytes(head, fromHex('818205190bc4'), encrypted.subarray(1)))],
    ['bad-record', 'encrypted part as a byte string, not an item', signed(concatBytes(head, fromHex('818205190bc4'), new CborWriter().bytes(encrypted).finish()))],
    ['bad-record', 'ciphertext shorter than the 8-byte tag', signed(concatBytes(head, fromHex('818205190bc4'), encrypt0('a1010b', 'a0', new Uint8Array(7))))],
    ['bad-record', 'four elements (no clear readings)', signed(concatBytes(fromHex('84020af6'), encrypted))],
    ['bad-signature', 'one ciphertext bit flipped', flipped],
    ['unsupported-version', 'record version 3', signed(concatBytes(fromHex('85030af6818205190bc4'), encrypted))],
  ];
  return [
    ...list.map(([code, name, frame]) => ({ name, code, frame: toHex(frame) })),
    { name: 'wrong content key (first bit flipped)', code: 'decrypt-failed', frame: toHex(good), contentKey: toHex(wrongKey) },
    { name: 'right key, another device\'s kid in the AAD', code: 'decrypt-failed', frame: toHex(good), contentKey: toHex(contentKeyOf(0)), kid: keys[1].kid },
  ];
}

export function buildVectors(appendixA, rfc8032) {
  const keys = keySet();
  return {
    'frames.json': {
      description: 'sceau protocol v1 golden frames. positive: seal `record` with `seed` (kid in the frame when `kid`) and get `frame` byte for byte. negative: verifyFrame with a keyring holding `keys` (revoked and deviceIds as given), replay windows empty unless `replay` gives the state for the frame\'s kid, gives `code`.',
      protocolVersion: 1,
      keys,
      positive: positives(keys),
      negative: negatives(keys),
    },
    'frames-v2.json': {
      description: 'sceau record version 2 (docs/protocol.md, "Record version 2"), keys as in frames.json. positive: seal `record` (all readings; operational ones go in clear) with `seed` and `contentKey` (content key i = SHA-256("sceau vector content key i")), kid in the frame when `kid`, and get `frame` byte for byte; baseIv, nonce, externalAad, clearReadings and encrypt0 are the intermediate values. negative: verifyFrame with recordVersions [1, 2] and the keyring of frames.json gives `code`; for decrypt-failed the frame verifies and openRecordReadings with `contentKey` (and `kid` when given, else the frame\'s) fails.',
      protocolVersion: 2,
      positive: privateFrames(keys),
      negative: privateNegatives(keys),
    },
    'fragments.json': {
      description: 'Datagrams carrying a frame on each link profile: the frame itself when it fits the MTU, else fragments (header 0TTTNNNN, 2-byte sender hint where the profile does not identify the sender).',
      vectors: fragmentVectors(keys),
    },
    'cbor.json': {
      description: 'RFC 8949 Appendix A items inside the sceau wire subset; `value` is the JSON value, byte strings as {"bytes": hex}.',
      source: 'github.com/cbor/test-vectors appendix_a.json @ aba89b653e484bc8573c22f3ff35641d79dfd8c1 (via shared/vectors)',
      items: cborVectors(appendixA),
    },
    'rfc8032.json': rfc8032,
  };
}
