// The device registry as a library: the registration key check agrees with the protocol's strict
// Ed25519 policy, the resolver never picks one of two devices silently, and the store's keyring
// follows rotations, revocations and deletions.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as noble from '@noble/ed25519';
import { getPublicKey, kidOf, sealRecord, SMALL_ORDER_ENCODINGS, fromHex, toHex, verifyFrame } from '@sceau/protocol';
import { ArgumentError, checkRegistrationKey, cliFailureOf, EXIT, parseEndpoint, parseTimeArg, RegistryError, registryRefusalKind, Store } from '@sceau/host-tools';

describe('registry refusals carry a code only; the CLI edge maps them', () => {
  it('a wrong request is exit 2, a conflict with the registry exit 3, a refusal of several entries exit 3 when one of them conflicts', () => {
    const invalid = new RegistryError('bad-name', 'name "": empty');
    const conflict = new RegistryError('name-taken', 'name "pump" is device 0011223344556677');
    expect(invalid).not.toHaveProperty('exitCode');
    expect([registryRefusalKind(invalid), registryRefusalKind(conflict)]).toEqual(['invalid', 'conflict']);
    expect(cliFailureOf(invalid)).toEqual({ exit: EXIT.usage, line: 'sceau: bad-name: name "": empty', body: { error: 'bad-name', detail: 'name "": empty' } });
    expect(cliFailureOf(conflict)?.exit).toBe(EXIT.io);
    // the first refusal's code, but the kind of the worst one
    expect(cliFailureOf(new RegistryError('bad-name', '2 of 2 refused', [], [invalid, conflict]))?.exit).toBe(EXIT.io);
    expect(cliFailureOf(new RegistryError('bad-name', '2 of 2 refused', [], [invalid, invalid]))?.exit).toBe(EXIT.usage);
  });

  it('parseEndpoint and parseTimeArg throw typed ArgumentErrors (RangeErrors), exit 2 at the CLI edge', () => {
    expect(() => parseEndpoint('host:99999', 8750, '--http')).toThrow(expect.objectContaining({ name: 'ArgumentError', code: 'bad-endpoint' }));
    expect(() => parseTimeArg('yesterday', '--since')).toThrow(ArgumentError);
    let thrown: unknown;
    try {
      parseTimeArg('yesterday', '--since');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RangeError);
    expect(cliFailureOf(thrown)).toEqual({
      exit: EXIT.usage,
      line: 'sceau: --since "yesterday": expected Unix seconds, an ISO 8601 date or a duration such as 24h [bad-time]',
      body: { error: 'bad-time', detail: '--since "yesterday": expected Unix seconds, an ISO 8601 date or a duration such as 24h' },
    });
    expect(cliFailureOf(new Error('a bug'))).toBeUndefined();
  });
});

describe('checkRegistrationKey', () => {
  it('refuses the small-order encodings the verifier refuses, and y >= p', () => {
    for (const hex of SMALL_ORDER_ENCODINGS) expect(() => checkRegistrationKey(fromHex(hex))).toThrow(expect.objectContaining({ code: 'small-order-public-key', name: 'RegistryError' }));
    // y = p (= 2^255 - 19) and y = 2^255 - 1, with and without the sign bit.
    for (const hex of ['edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff']) {
      expect(() => checkRegistrationKey(fromHex(hex))).toThrow(RegistryError);
    }
    expect(() => checkRegistrationKey(new Uint8Array(31))).toThrow(/non-canonical-public-key/);
  });

  it('accepts exactly the encodings that @noble/ed25519 decodes strictly and that are not of small order (property, pinned seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        let decodes = true;
        try {
          noble.Point.fromBytes(bytes, false);
        } catch {
          decodes = false;
        }
        const expected = decodes && !SMALL_ORDER_ENCODINGS.includes(toHex(bytes));
        let accepted = true;
        try {
          checkRegistrationKey(bytes);
        } catch {
          accepted = false;
        }
        expect(accepted).toBe(expected);
      }),
      { seed: 7, numRuns: 300 },
    );
    // y = 2 is not on the curve.
    expect(() => checkRegistrationKey(fromHex('0200000000000000000000000000000000000000000000000000000000000000'))).toThrow(/off-curve-public-key/);
  });

  it('accepts every key made from a seed (property, pinned seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        checkRegistrationKey(getPublicKey(seed));
      }),
      { seed: 13, numRuns: 200 },
    );
  });
});

describe('the resolver and the keyring', () => {
  const a = getPublicKey(new Uint8Array(32).fill(81));
  const b = getPublicKey(new Uint8Array(32).fill(82));
  const kidA = toHex(kidOf(a));

  it('a 16-hex reference that is the kid of one device and the DevEUI of another is ambiguous', () => {
    const store = Store.open(':memory:');
    try {
      store.addDevice(a, { name: 'alpha' });
      store.addDevice(b, { name: 'beta', devEui: kidA });
      expect(() => store.registry.resolve(kidA)).toThrow(expect.objectContaining({ code: 'ambiguous-device' }));
      expect(store.registry.resolve('beta').device.devEui).toBe(kidA);
    } finally {
      store.close();
    }
  });

  it('the keyring follows a rotation (by kid and by DevEUI), and a deletion', async () => {
    const store = Store.open(':memory:');
    try {
      const seedA = new Uint8Array(32).fill(81);
      const seedB = new Uint8Array(32).fill(82);
      store.addDevice(a, { name: 'alpha', devEui: '70b3d57ed0000081' });
      const frameA = sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, seedA, { kid: false });
      const frameB = sealRecord({ version: 1, counter: 1, time: null, readings: [{ channel: 1, value: 1 }] }, seedB, { kid: false });
      const byEui = { deviceId: 'deveui:70b3d57ed0000081' };
      expect(verifyFrame(frameA, store, byEui).ok).toBe(true);
      const rotated = store.registry.rotate('alpha', b);
      expect(rotated.revoked).toEqual([kidA]);
      expect(verifyFrame(frameA, store, byEui)).toMatchObject({ ok: false, code: 'bad-signature' });
      expect(verifyFrame(frameB, store, byEui).ok).toBe(true);
      expect(store.resolve({ kid: kidOf(a) })).toMatchObject({ revoked: true });
      expect(() => store.registry.rotate('alpha', a)).toThrow(/same-key/);
      expect(store.registry.rotate('alpha', b).result).toBe('unchanged');
      store.registry.delete('alpha');
      expect(store.resolve({ kid: kidOf(b) })).toBeUndefined();
      expect(store.resolve(byEui)).toBeUndefined();
      expect((await store.listDevices())).toEqual([]);
    } finally {
      store.close();
    }
  });
});
