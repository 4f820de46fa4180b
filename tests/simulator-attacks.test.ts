import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryKeyring, Reassembler, verifyFrame } from '@sceau/protocol';
import { HostToolsGatewaySink, resolveScenario, runSimulation, type DeviceRegistration, type FrameSink, type SinkOutcome } from '@sceau/simulator';

/**
 * A gateway without replay protection, as the baseline a run must fail against: protocol-only
 * verification (no replay window, no storage) of whole frames.
 */
function noReplayWindowSink(): FrameSink {
  const keys = new MemoryKeyring();
  const reassembler = new Reassembler();
  return {
    name: 'no-replay-window',
    reportsFrames: true,
    observable: true,
    register: (devices: DeviceRegistration[]) => {
      for (const d of devices) keys.add(d.publicKey, { deviceIds: d.deviceIds });
    },
    deliver: (datagram, meta): SinkOutcome => {
      const pushed = reassembler.push(datagram, meta.t, meta.source);
      if (pushed.kind !== 'frame') return pushed.kind === 'invalid' ? { kind: 'invalid', detail: pushed.detail } : { kind: pushed.kind };
      const r = verifyFrame(pushed.frame, keys, { now: Math.floor(meta.unixMs / 1000), ...(meta.source.startsWith('deveui:') ? { deviceId: meta.source } : {}) });
      return r.ok ? { kind: 'accepted', kid: r.kid, counter: r.counter, frame: pushed.frame } : { kind: 'rejected', code: r.code, frame: pushed.frame };
    },
    close: () => undefined,
  };
}

const ALL = 'replay=0.1,tamper=0.1,forge=0.1,wrong-key=0.1';

describe('attacks', () => {
  for (const link of ['lorawan-eu868-dr3', 'lorawan-eu868-dr0', 'lorawan-us915-dr0', 'sigfox', 'udp', 'tcp']) {
    it(`are all detected, and no genuine frame is rejected, on ${link}`, async () => {
      const r = await runSimulation(
        resolveScenario({ seed: `attacks-${link}`, devices: link === 'sigfox' ? 40 : 10, duration: '12h', link, interval: link === 'sigfox' ? '1h' : '10m', loss: 0.05, dup: 0.05, reorder: 0.05, jitter: '2s', attacks: ALL }),
        { sink: await HostToolsGatewaySink.start() },
      );
      const s = r.summary;
      expect(s.attacksInjected).toBeGreaterThan(10);
      expect(s.attacksDetected).toBe(s.attacksInjected);
      expect(s.falseAccepts).toBe(0);
      expect(r.genuineRejected).toEqual({});
      expect(s.verified).toBe(s.delivered);
      expect(r.failures).toEqual([]);
      for (const kind of ['replay', 'tamper', 'forge', 'wrong-key'] as const) expect(r.attacks[kind].injected).toBeGreaterThan(0);
      // Each attack is refused for what it is.
      // A replay of the exact bytes is a duplicate delivery to the gateway: not accepted twice.
      expect((s.rejected.replay ?? 0) + (s.rejected.duplicate ?? 0)).toBeGreaterThanOrEqual(r.attacks.replay.injected);
      expect(s.rejected.duplicate ?? 0).toBeGreaterThan(0);
      expect(s.rejected['bad-signature']).toBeGreaterThan(0);
      expect(s.rejected['unknown-kid']).toBeGreaterThan(0);
    });
  }

  it('are detected for any seed, rates and impairments (property, pinned seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.constantFrom('lorawan-eu868-dr2', 'lorawan-eu868-dr5', 'lorawan-us915-dr1', 'nbiot'),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.double({ min: 0, max: 0.3, noNaN: true }),
        fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        async (seed, link, loss, dup, rate) => {
          const r = await runSimulation(
            resolveScenario({ seed, devices: 4, duration: '6h', link, loss, dup, reorder: dup, jitter: '10s', reboots: 1, attacks: { replay: rate, tamper: rate, forge: rate, 'wrong-key': rate } }),
            { sink: await HostToolsGatewaySink.start() },
          );
          expect(r.summary.falseAccepts).toBe(0);
          expect(r.summary.attacksDetected).toBe(r.summary.attacksInjected);
          expect(r.genuineRejected).toEqual({});
          expect(r.summary.delivered + r.summary.lost.total).toBe(r.summary.recordsSealed);
        },
      ),
      { seed: 0x5cea0, numRuns: 12 },
    );
  });

  it('fail the run when the gateway accepts one (a gateway without replay protection)', async () => {
    const sink = noReplayWindowSink();
    const r = await runSimulation(resolveScenario({ seed: 'weak', devices: 5, duration: '6h', attacks: 'replay=0.5' }), { sink });
    expect(r.summary.falseAccepts).toBeGreaterThan(0);
    expect(r.failures.join('\n')).toMatch(/accepted/);
  });
});
