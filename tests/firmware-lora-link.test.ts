// The whole firmware over its LoRa link in the DeviceScript VM, against the fake SX1276 (SPI does
// not exist in the simulator): frames larger than the MTU go out as fragments with the 2-byte
// sender hint, spaced by the duty cycle, and reassemble into frames that verify.
import { fromHex, MemoryKeyring, Reassembler, verifyFrame } from '@sceau/protocol';
import { describe, expect, it } from 'vitest';
import { buildEntry, configSource } from '../firmware/scripts/build.mjs';
import { startVm } from '../firmware/scripts/devs-vm.mjs';

describe('firmware over the LoRa link (fake SX1276)', () => {
  it('sends fragments within the duty cycle that reassemble into verified frames', async () => {
    // SF7 / 125 kHz, MTU 51 (fragments), 25% duty cycle so the test stays short
    const { binary } = buildEntry('src/main.ts', {
      'src/config.ts': configSource({
        LINK: 'lora-fake', LINK_MTU: 51, LORA_SF: 7, LORA_DUTY_CYCLE: 0.25, LORA_MAX_WAIT_MS: 5000, SAMPLE_INTERVAL_MS: 100,
      }),
    });
    const keyring = new MemoryKeyring();
    const reassembler = new Reassembler({ senderHint: true });
    const packets: { at: number; hex: string }[] = [];
    const frames: number[] = [];
    let inst: any;
    let acc = '';
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`only ${frames.length} frames from ${packets.length} packets`)), 40_000);
      startVm(binary, {
        onLine: (s: string) => {
          for (const line of String(s).split('\n')) {
            if (!line.startsWith('> ')) continue;
            const l = line.slice(2);
            const k = /^sceau-key v1 kid=[0-9a-f]{16} pub=([0-9a-f]{64})/.exec(l);
            if (k) keyring.add(fromHex(k[1]!));
            if (l.startsWith('sceau-error')) reject(new Error(l));
            const m = /^sceau-radio(\+?) ([0-9a-f]+)$/.exec(l);
            if (!m) continue;
            acc += m[2];
            if (m[1] === '+') continue;
            packets.push({ at: Date.now(), hex: acc });
            const pushed = reassembler.push(fromHex(acc), Date.now());
            acc = '';
            if (pushed.kind !== 'frame') continue;
            const r = verifyFrame(pushed.frame, keyring);
            if (!r.ok) return reject(new Error(JSON.stringify(r)));
            frames.push(r.counter);
            if (frames.length >= 2) {
              clearTimeout(guard);
              resolve();
            }
          }
        },
      }).then((i: any) => { inst = i; }, reject);
    }).finally(() => inst?.devsStop());
    expect(frames).toEqual([1, 2]);
    // every packet fits the MTU and, frames being larger, they are fragments (bit 7 clear)
    for (const p of packets) {
      expect(p.hex.length / 2).toBeLessThanOrEqual(51);
      expect(parseInt(p.hex.slice(0, 2), 16) & 0x80).toBe(0);
    }
    // 25% duty cycle: after a packet of T ms on air the band stays closed until 4 T after its
    // start (AN1200.13 time on air at SF7 / 125 kHz, CR 4/5, explicit header, CRC on)
    const airtime = (len: number) => 1.024 * (8 + 4.25 + 8 + Math.max(Math.ceil((8 * len - 28 + 28 + 16) / 28) * 5, 0));
    packets.slice(1).forEach((p, i) => {
      const prev = packets[i]!;
      expect(p.at - prev.at).toBeGreaterThanOrEqual(0.9 * 4 * airtime(prev.hex.length / 2) - 20);
    });
  }, 60_000);
});
