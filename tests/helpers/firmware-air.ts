// One boot of the whole firmware (src/main.ts with LINK = "lorawan-fake") in the DeviceScript VM on
// a virtual clock, seen through its fake SX1276's "air" (firmware/src/lora-air-fake.ts): what the
// driver programmed for each transmission and each receive window, decoded here from the SX1276
// datasheet's register layout (no firmware code), and downlinks put on air by the test's network
// model. Every event carries the virtual time of its console line.
import { SimFirmwareDevice } from '../../firmware/scripts/sim-device.mjs';

/** One transmission: the PHYPayload and the radio settings it went with (after TX done). */
export interface TxEvent { kind: 'tx'; t: number; phy: Buffer; freq: number; sf: number; bw: number; sync: number; pa: number }
/**
 * One receive window, when it closed (`t`): its settings, IQ inversion, whether a packet was heard,
 * and `opened`, when the MAC asked the radio to listen (the fake radio answers at once, after
 * reading the air setting for `t - opened` ms).
 */
export interface RxEvent { kind: 'rx'; t: number; opened: number; freq: number; sf: number; bw: number; inverted: boolean; got: boolean }
/** TRACE_SEALING's lines around each signature. */
export interface SealEvent { kind: 'seal' | 'sealed'; t: number }
export type AirEvent = TxEvent | RxEvent | SealEvent;

/** A downlink on air, at a frequency, SF and bandwidth (a window must match all three to hear it). */
export interface Downlink { freq: number; sf: number; bw: number; hex: string }

/** The SX1276's RegFrf (Frf = f * 2^19 / 32 MHz), to the nearest kHz. */
export const freqOfFrf = (frfHex: string) => Math.round((parseInt(frfHex, 16) * 32e6) / 2 ** 19 / 1000) * 1000;
/** RegModemConfig1 bits 7..4: 7 = 125 kHz, 8 = 250 kHz, 9 = 500 kHz. */
const bwOfMc1 = (mc1: number) => ({ 7: 125_000, 8: 250_000, 9: 500_000 })[mc1 >> 4] ?? -1;

/** Decodes a `sceau-air` line; undefined for other lines. */
export function airEventOf(line: string, t: number, phy: Buffer): AirEvent | undefined {
  let m = /^sceau-air tx ([0-9a-f]{6}) ([0-9a-f]{2})([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})$/.exec(line);
  if (m) return { kind: 'tx', t, phy, freq: freqOfFrf(m[1]!), bw: bwOfMc1(parseInt(m[2]!, 16)), sf: parseInt(m[3]!, 16) >> 4, pa: parseInt(m[4]!, 16), sync: parseInt(m[5]!, 16) };
  // "frf mc1 mc2 symbTimeoutLsb RegInvertIQ RegInvertIQ2 got=0|1 fake-ms=n"; inverted IQ (RX): 0x67 / 0x19
  m = /^sceau-air rx ([0-9a-f]{6}) ([0-9a-f]{2}) ([0-9a-f]{2}) [0-9a-f]{2} ([0-9a-f]{2}) ([0-9a-f]{2}) got=([01]) fake-ms=(\d+)$/.exec(line);
  if (m) return { kind: 'rx', t, opened: t - Number(m[7]), freq: freqOfFrf(m[1]!), bw: bwOfMc1(parseInt(m[2]!, 16)), sf: parseInt(m[3]!, 16) >> 4, inverted: (parseInt(m[4]!, 16) & 0x40) !== 0 && m[5] === '19', got: m[6] === '1' };
  if (/^sceau-trace seal \d+$/.test(line)) return { kind: 'seal', t };
  if (line === 'sceau-trace sealed') return { kind: 'sealed', t };
  return undefined;
}

export interface AirBoot { lines: { t: number; l: string }[]; events: AirEvent[]; end: number }

/**
 * Runs one boot from virtual time `t0` until `until()` or `t0 + maxMs`. `settings` are written
 * through the runtime's settings service first; `onTx` sees each transmission and may answer with
 * a downlink, put on air before the next receive window (the radio delivers it to the first window
 * on its frequency, SF and bandwidth with inverted IQ).
 */
export async function runAirBoot(binary: Uint8Array, o: { deviceId: string; flash: { data?: Uint8Array }; t0: number; settings: Record<string, string>; maxMs: number; onTx: (tx: TxEvent) => Downlink | null; until: () => boolean }): Promise<AirBoot> {
  const dev: any = await SimFirmwareDevice.start(binary, { deviceId: o.deviceId, read: (kind: string) => (kind === 'temperature' ? 2150 : 4800), random: (n: number) => new Uint8Array(n).fill(7), flash: o.flash, t0: o.t0 });
  const lines: { t: number; l: string }[] = [];
  const events: AirEvent[] = [];
  const pending: string[] = [];
  let seq = o.t0 + 1; // above any delivered sequence of an earlier boot
  let radio = '';
  let phy = Buffer.alloc(0);
  dev.onLine = (l: string, t: number) => {
    if (process.env.LW_DEBUG) console.log(t, l.slice(0, 140));
    lines.push({ t, l });
    // the fake's echo of each packet sent; longer than 100 bytes: "sceau-radio+ <chunk>" lines first
    const r = /^sceau-radio(\+?) ([0-9a-f]*)$/.exec(l);
    if (r) {
      radio += r[2];
      if (r[1] === '') {
        phy = Buffer.from(radio, 'hex');
        radio = '';
      }
      return;
    }
    const e = airEventOf(l, t, phy);
    if (e === undefined) return;
    events.push(e);
    if (e.kind !== 'tx') return;
    const d = o.onTx(e);
    if (d) pending.push(`${seq++}:${d.freq}:${d.sf}:${d.bw}:${d.hex}`);
  };
  for (const [k, v] of Object.entries(o.settings)) await dev.setSetting(k, v);
  let t = o.t0;
  while (!o.until() && t < o.t0 + o.maxMs) {
    t = dev.step(t);
    while (pending.length > 0) await dev.setSetting('sceau_air', pending.shift());
  }
  dev.stop();
  return { lines, events, end: t };
}

/**
 * The class A cycles of a run: each transmission with the receive windows that followed it (up to
 * the next transmission), and the TRACE_SEALING events between that transmission and the close of
 * its last window (in console order: a signature printed before the last window closed is inside).
 * The last transmission is left out when the run ended before any of its windows closed.
 */
export function cyclesOf(events: AirEvent[]): { tx: TxEvent; rx: RxEvent[]; sealsInside: SealEvent[] }[] {
  const out: { tx: TxEvent; rx: RxEvent[]; sealsInside: SealEvent[] }[] = [];
  let i = events.findIndex(e => e.kind === 'tx');
  while (i >= 0 && i < events.length) {
    const tx = events[i] as TxEvent;
    let next = events.findIndex((e, j) => j > i && e.kind === 'tx');
    if (next < 0) next = events.length;
    const segment = events.slice(i + 1, next);
    let lastRx = -1;
    segment.forEach((e, j) => {
      if (e.kind === 'rx') lastRx = j;
    });
    if (lastRx < 0 && next === events.length) break;
    out.push({
      tx,
      rx: segment.filter((e): e is RxEvent => e.kind === 'rx'),
      sealsInside: segment.filter((e, j): e is SealEvent => j < lastRx && (e.kind === 'seal' || e.kind === 'sealed')),
    });
    i = next;
  }
  return out;
}
