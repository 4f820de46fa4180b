// --firmware-vm: devices that are the real firmware bytecode in DeviceScript VMs, on the
// simulator's virtual clock, beside model devices, through the same link model and gateway.
//
// The VM frames are compared with golden bytes in tests/vectors/firmware-vm-fleet.json, not with
// the host's encoder at run time (issue 19: firmware and host share bytes, not code). To write the
// file again after a deliberate change, run this file with SCEAU_WRITE_VECTORS=1: it then checks
// once that each VM frame equals sealRecord of its record under the device's key, and writes them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRecord, fromHex, getPublicKey, kidOf, sealRecord, toHex, verifySign1 } from '@sceau/protocol';
import { HostToolsGatewaySink, deviceSecret, resolveScenario, runSimulation, simCli } from '@sceau/simulator';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'sceau-sim-fw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SEED = 'firmware-vm';
const VECTOR_FILE = join(import.meta.dirname, 'vectors', 'firmware-vm-fleet.json');

interface FleetVector {
  description: string;
  scenario: typeof scenario;
  /** Every datagram of the 16 VM devices, in capture order: the device's index in the fleet, its kid, the frame. */
  frames: Array<{ device: number; kid: string; frame: string }>;
}

// 16 firmware VMs and 4 model devices on EU868 DR3, a sample a minute for 4 simulated minutes
const scenario = { seed: SEED, duration: '4m', drain: '10m', interval: '1m', link: 'lorawan-eu868-dr3', devices: 20, firmwareVm: 16, reboots: 0, faults: 0 };

interface Line {
  t: number;
  kid: string;
  datagram: string;
  attack: string | null;
}

async function run(name: string) {
  const file = join(dir, `${name}.ndjson`);
  const sink = await HostToolsGatewaySink.start();
  const t0 = performance.now();
  const r = await runSimulation(resolveScenario(scenario), { sink, capture: file });
  const wallMs = performance.now() - t0;
  const bytes = readFileSync(file);
  const lines = bytes.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
  return { r, bytes, lines, wallMs };
}

describe('--firmware-vm: real firmware devices in the fleet', () => {
  let first: Awaited<ReturnType<typeof run>>;

  it('runs 16 firmware VMs beside model devices; the gateway verifies every frame', async () => {
    first = await run('one');
    const { r, wallMs } = first;
    expect(r.failures).toEqual([]);
    expect(r.summary.devices).toBe(20);
    expect(r.summary.firmwareDevices).toBe(16);
    expect(r.firmware).not.toBeNull();
    const fw = r.firmware!;
    expect(fw.devices).toBe(16);
    expect(fw.boots).toBe(16);
    // each VM powers on at a random phase of its minute and samples every minute: 3 or 4 frames
    expect(fw.frames).toBeGreaterThanOrEqual(16 * 3);
    // no loss configured: every record sealed, model or firmware, was delivered and verified
    expect(r.summary.recordsSealed).toBe(fw.frames + 16);
    expect(r.summary.delivered).toBe(r.summary.recordsSealed);
    expect(r.summary.verified).toBe(r.summary.recordsSealed);
    expect(r.summary.rejected).toEqual({});
    expect(r.genuineRejected).toEqual({});
    expect(r.summary.dutyCycleViolations).toBe(0);
    console.log(`16 firmware VMs + 4 model devices, 4 simulated minutes: ${Math.round(wallMs)} ms wall, ${fw.frames} VM frames, ${fw.vmMs} ms in the VMs (${(fw.vmMs / fw.frames).toFixed(1)} ms per VM frame), ${fw.steps} VM steps`);
  }, 120_000);

  it('gives the same capture file, byte for byte, with firmware VMs', async () => {
    const again = await run('two');
    expect(again.bytes.equals(first.bytes)).toBe(true);
    const { wallMs: _a, ...s1 } = first.r.summary;
    const { wallMs: _b, ...s2 } = again.r.summary;
    expect(s2).toEqual(s1);
  }, 120_000);

  it('frames of a VM device come from the firmware: its provisioned key, its record shape, the golden bytes', () => {
    const vmKids = new Map<string, Uint8Array>();
    const modelKids = new Map<string, Uint8Array>();
    const deviceOf = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const secret = deviceSecret(SEED, 'fleet', i);
      const kid = toHex(kidOf(getPublicKey(secret)));
      (i < 16 ? vmKids : modelKids).set(kid, secret);
      deviceOf.set(kid, i);
    }
    const vmLines: FleetVector['frames'] = [];
    const seenVm = new Set<string>();
    let vmFrames = 0;
    for (const l of first.lines) {
      const secret = vmKids.get(l.kid) ?? modelKids.get(l.kid);
      expect(secret).toBeDefined();
      const frame = fromHex(l.datagram);
      const v = verifySign1(frame, getPublicKey(secret!));
      expect(v.ok).toBe(true);
      if (!v.ok) continue;
      const rec = decodeRecord(v.payload);
      expect(rec.ok).toBe(true);
      if (!rec.ok) continue;
      const channels = rec.record.readings.map((x) => x.channel);
      if (vmKids.has(l.kid)) {
        seenVm.add(l.kid);
        vmFrames++;
        // the firmware: no wall clock, temperature and humidity over its sensor roles, its own
        // boot reading (channel 32) in the first record of a boot, no battery channel
        expect(rec.record.time).toBeNull();
        expect(channels.filter((c) => c !== 32)).toEqual([1, 2]);
        if (rec.record.counter === 1) expect(rec.record.readings[0]).toEqual({ channel: 32, value: 1 });
        vmLines.push({ device: deviceOf.get(l.kid)!, kid: l.kid, frame: l.datagram });
        if (process.env.SCEAU_WRITE_VECTORS === '1') expect(toHex(sealRecord(rec.record, secret!, { kid: true }))).toBe(l.datagram);
      } else {
        expect(channels).toContain(5); // the model devices report their battery
      }
    }
    expect(seenVm.size).toBe(16);
    expect(vmFrames).toBe(first.r.firmware!.frames);
    if (process.env.SCEAU_WRITE_VECTORS === '1') {
      const vector: FleetVector = {
        description: 'The datagrams the real firmware (DeviceScript VM) sends in the simulator scenario below (tests/simulator-firmware-vm.test.ts), byte for byte. Written with SCEAU_WRITE_VECTORS=1 after checking each equals sealRecord (@sceau/protocol) of its record under the device key deviceSecret(seed, "fleet", device).',
        scenario,
        frames: vmLines,
      };
      mkdirSync(join(import.meta.dirname, 'vectors'), { recursive: true });
      writeFileSync(VECTOR_FILE, `${JSON.stringify(vector, null, 1)}\n`);
    }
    // Golden bytes: the firmware seals the same records to the same bytes as when the vectors were written.
    expect(existsSync(VECTOR_FILE)).toBe(true);
    const golden = JSON.parse(readFileSync(VECTOR_FILE, 'utf8')) as FleetVector;
    expect(golden.scenario).toEqual(scenario);
    expect(vmLines).toEqual(golden.frames);
  });

  it('takes --firmware-vm and --firmware-tick on the command line, writes the VM keys with --keys-out, refuses more VMs than devices', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t), stderrIsTty: false };
    const keys = join(dir, 'keys');
    const code = await simCli(['run', '--devices', '3', '--firmware-vm', '2', '--duration', '2m', '--interval', '1m', '--drain', '10m', '--seed', SEED, '--link', 'udp', '--firmware-tick', '1s', '--keys-out', keys, '--json'], io);
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(out.join('')) as { devices: number; firmwareDevices: number; verified: number; recordsSealed: number };
    expect(summary).toMatchObject({ devices: 3, firmwareDevices: 2 });
    expect(summary.verified).toBe(summary.recordsSealed);
    const pubs = readdirSync(keys).sort();
    expect(pubs).toEqual([0, 1, 2].map((i) => `${toHex(kidOf(getPublicKey(deviceSecret(SEED, 'fleet', i))))}.pub`).sort());
    expect(await simCli(['run', '--devices', '3', '--firmware-vm', '4'], { ...io, stderr: () => {} })).toBe(2);
  }, 120_000);

  it('takes firmwareVm per group in a scenario (and at the top level, per group, at most its devices)', () => {
    const c = resolveScenario({ groups: [{ name: 'vm', devices: 3, firmwareVm: 2, firmwareTick: '1s' }, { name: 'model', devices: 5 }] });
    expect(c.groups.map((g) => [g.firmwareVm, g.firmwareTickMs])).toEqual([[2, 1000], [0, 0]]);
    const top = resolveScenario({ firmwareVm: 4, groups: [{ name: 'a', devices: 2 }, { name: 'b', devices: 6 }] });
    expect(top.groups.map((g) => g.firmwareVm)).toEqual([2, 4]);
    expect(() => resolveScenario({ groups: [{ name: 'a', devices: 2, firmwareVm: 3 }] })).toThrow(/firmwareVm/);
  });
});
