// inspectFrame (protocol): a frame's kid and record without verifying, readings named and scaled
// by the registry it is given (the user's `--channels`), never a throw on untrusted bytes.
import { describe, expect, it } from 'vitest';
import { ChannelRegistry, channels, getPublicKey, inspectFrame, kidOf, sealRecord, toHex } from '@sceau/protocol';

const seed = new Uint8Array(32).fill(0x33);
const frame = sealRecord({ version: 1, counter: 7, time: null, readings: [{ channel: 1, value: 2150 }, { channel: 40, value: 125, age: 60 }] }, seed);

describe('inspectFrame', () => {
  it('names readings with the built-in registry, and unknown channels by number', () => {
    const out = inspectFrame(frame);
    expect(out.kid).toBe(toHex(kidOf(getPublicKey(seed))));
    expect(out.record).toMatchObject({ counter: 7 });
    expect(out.readings).toEqual([
      { name: 'temperature', value: 21.5, unit: 'Cel' },
      { name: 'channel-40', value: 125, unit: '', age: 60 },
    ]);
  });

  it("honours a user's channel registry", () => {
    const user = new ChannelRegistry([...[...Array(64).keys()].map((id) => channels.get(id)).filter((c) => c !== undefined), { id: 40, name: 'soil', senmlName: 'soil', unit: '%RH', scale: 0.1, description: 'soil moisture' }]);
    expect(inspectFrame(frame, user).readings?.[1]).toEqual({ name: 'soil', value: 12.5, unit: '%RH', age: 60 });
  });

  it('says what it cannot read instead of throwing', () => {
    expect(inspectFrame(new Uint8Array([0xff, 0x00]))).toEqual({ recordError: 'not a COSE_Sign1 frame' });
    const cut = frame.slice(0, frame.length - 70);
    expect(() => inspectFrame(cut)).not.toThrow();
  });
});

// What inspectFrame reads and what it says it cannot, from the mutation run of inspect-frame.ts
// (issue 19). Frames are built by hand around any payload: inspectFrame verifies nothing.
describe('inspectFrame rule by rule', () => {
  const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
  /** 18([h'a10127', unprotected, payload, h'00']) */
  const sign1 = (unprotected: string, payload: string) => hex(`d28443a10127${unprotected}${payload}4100`);
  const record = '8401070181820102'; // [1, 7, 1, [[1, 2]]]
  const bstr = (h: string) => (h.length / 2 < 24 ? (0x40 + h.length / 2).toString(16) : `58${(h.length / 2).toString(16).padStart(2, '0')}`) + h;

  it('takes the kid from label 4 only, and only a byte string', () => {
    expect(inspectFrame(sign1('a1044201ff', bstr(record))).kid).toBe('01ff');
    expect(inspectFrame(sign1('a1054201ff', bstr(record))).kid).toBeUndefined(); // label 5 (IV), not kid
    expect(inspectFrame(sign1('a104626162', bstr(record))).kid).toBeUndefined(); // kid as text
    expect(inspectFrame(sign1('a1234201ff', bstr(record))).kid).toBeUndefined(); // label -4
    expect(inspectFrame(sign1('80', bstr(record)))).toStrictEqual( // unprotected not a map: no kid, the record still read
      { record: { version: 1, counter: 7, time: 1, readings: [{ channel: 1, value: 2 }] }, readings: [{ name: 'temperature', value: 0.02, unit: 'Cel' }] });
  });

  it('says why there is no record: no payload, a bad record, an unsupported version, a bad v2 record', () => {
    expect(inspectFrame(sign1('a1044201ff', '01'))).toEqual({ kid: '01ff', recordError: 'no payload' });
    expect(inspectFrame(hex('d28143a10127'))).toEqual({ recordError: 'no payload' });
    expect(inspectFrame(hex('d2a0'))).toEqual({ recordError: 'not a COSE_Sign1 frame' }); // tag on a map
    expect(inspectFrame(hex('8443a10127a040' + '4100'))).toEqual({ recordError: 'not a COSE_Sign1 frame' }); // untagged
    expect(inspectFrame(sign1('a0', bstr('8401070180')))).toEqual({ recordError: 'bad-record: record[3] (readings): expected a non-empty array' });
    expect(inspectFrame(sign1('a0', bstr('84030701' + '81820102')))).toEqual({ recordError: 'unsupported-version: record version 3, this verifier reads version 1' });
    expect(inspectFrame(sign1('a0', bstr('8402070181820102')))).toEqual({ recordError: 'bad-record: record v2: expected 5 elements' });
    expect(inspectFrame(sign1('a0', bstr('85020701' + '80' + '01')))).toEqual({ recordError: 'bad-record: record[4] (encrypted): expected tag 16 (COSE_Encrypt0)' });
  });

  it('a v2 record: its clear readings, the encrypted part in hex, not the ciphertext in the record', () => {
    const encrypted = 'd08343a1010ba0480000000000000000';
    const out = inspectFrame(sign1('a0', bstr(`8502070181821820${'01'}` + encrypted)));
    expect(out).toEqual({ record: { version: 2, counter: 7, time: 1, clearReadings: [{ channel: 32, value: 1 }] }, encrypted, readings: [{ name: 'boot', value: 1, unit: '' }] });
  });
});
