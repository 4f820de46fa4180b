// The simulator's tally (simulator/src/scoreboard.ts) on its own: roles decided at arrival, the
// gateway's verdicts, lost-record reasons, attack detection and the run's failures, without a
// fleet, a clock or a gateway.
import { describe, expect, it } from 'vitest';
import { type Bytes, fragment, linkProfile, sealRecord } from '@sceau/protocol';
import { type Arrival, type Closing, type FrameTrack, type GroupReport, Scoreboard, deviceSecret, newFrameTrack } from '@sceau/simulator';

const KEY = deviceSecret('scoreboard', 'g', 0);
const OBSERVED: Closing = { observable: true, dutyCycleViolations: 0, simulatedMs: 1000, wallMs: 5 };

function group(): GroupReport {
  return { name: 'g', devices: 1, link: 'udp', intervalMs: 60_000, batch: { rounds: 1, frameBytes: 0, sustainable: true }, record: 1, recordsSealed: 0, delivered: 0, lost: 0, reboots: 0, sensorFaults: 0, flashWrites: 0 };
}

function frame(counter: number): Bytes {
  return sealRecord({ version: 1, counter, time: null, readings: [{ channel: 1, value: 2000 + counter }] }, KEY, { kid: true });
}

/** A genuine frame sealed and sent as one datagram over `link`, with `copies` copies on their way. */
function sent(board: Scoreboard, g: GroupReport, counter: number, copies = 1): FrameTrack {
  const track = newFrameTrack(frame(counter), counter, g);
  board.sealed(track);
  track.outstanding = copies;
  track.sendDone = true;
  return track;
}

function genuine(track: FrameTrack, datagram = track.bytes, link = 'udp'): Arrival {
  return { datagram, source: 'udp:10.0.0.1:5683', link, track, attack: null };
}

describe('scoreboard', () => {
  it('counts a frame delivered once, its link copy as suppressed, and balances records', () => {
    const board = new Scoreboard(1);
    const g = group();
    const track = sent(board, g, 1, 2);
    const first = board.identify(genuine(track), track.bytes, 10);
    expect(first).toBe('first');
    board.judge(genuine(track), first, { kind: 'accepted', kid: 'k', counter: 1, frame: track.bytes }, true);
    const copy = board.identify(genuine(track), track.bytes, 20);
    expect(copy).toBe('copy');
    board.judge(genuine(track), copy, { kind: 'accepted', kid: 'k', counter: 1, frame: track.bytes, delivery: 'duplicate' }, true);
    board.lose(track, 'powerCut'); // already delivered: not lost
    const { summary, failures } = board.result(OBSERVED);
    expect(summary).toMatchObject({ recordsSealed: 1, delivered: 1, verified: 1, duplicatesSuppressed: 1, falseAccepts: 0, lost: { total: 0 } });
    expect(g).toMatchObject({ recordsSealed: 1, delivered: 1 });
    expect(failures).toEqual([]);
  });

  it('fails a run where a link copy is accepted twice, or a delivered genuine frame is rejected', () => {
    const board = new Scoreboard(1);
    const g = group();
    const twice = sent(board, g, 1, 2);
    board.judge(genuine(twice), board.identify(genuine(twice), twice.bytes, 0), { kind: 'accepted', kid: 'k', counter: 1 }, true);
    board.judge(genuine(twice), board.identify(genuine(twice), twice.bytes, 1), { kind: 'accepted', kid: 'k', counter: 1 }, true);
    const refused = sent(board, g, 2);
    board.judge(genuine(refused), board.identify(genuine(refused), refused.bytes, 2), { kind: 'rejected', code: 'unknown-kid' }, true);
    const { summary, genuineRejected, failures } = board.result(OBSERVED);
    expect(summary.falseAccepts).toBe(1);
    expect(summary.rejected).toEqual({ 'unknown-kid': 1 });
    expect(genuineRejected).toEqual({ 'unknown-kid': 1 });
    expect(failures.join('\n')).toMatch(/1 attack or duplicate frames were accepted/);
    expect(failures.join('\n')).toMatch(/1 delivered genuine frames were rejected/);
  });

  it('gives each lost record one reason: radio, fragments, power cut, queue overflow, unsent', () => {
    const board = new Scoreboard(1);
    const g = group();
    const radio = sent(board, g, 1, 0);
    radio.dropped = 1;
    board.settle(radio);
    const mixed = sent(board, g, 2); // its one datagram arrived, no frame came of it
    expect(board.identify(genuine(mixed), null, 0)).toBe('none');
    const cut = newFrameTrack(frame(3), 3, g);
    board.sealed(cut);
    cut.aborted = true;
    cut.sendDone = true;
    board.settle(cut);
    const overflow = newFrameTrack(frame(4), 4, g);
    board.sealed(overflow);
    board.lose(overflow, 'queueOverflow');
    board.lose(overflow, 'unsent'); // counted once
    const unsent = newFrameTrack(frame(5), 5, g);
    board.sealed(unsent);
    board.lose(unsent, 'unsent');
    const { summary, failures } = board.result(OBSERVED);
    expect(summary.lost).toEqual({ total: 5, radio: 1, fragments: 1, queueOverflow: 1, powerCut: 1, unsent: 1 });
    expect(summary.recordsSealed).toBe(5);
    // unsent records fail the run; the rest balance
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/1 records were never sent/);
  });

  it('reports a record neither delivered nor lost as an internal failure', () => {
    const board = new Scoreboard(1);
    sent(board, group(), 1); // still travelling when the run ends
    expect(board.result(OBSERVED).failures).toEqual(['internal: 1 records sealed but 0 delivered + 0 lost']);
  });

  it('takes back a delivery the gateway did not make (its reassembly dropped the message)', () => {
    const board = new Scoreboard(1);
    const g = group();
    const track = sent(board, g, 1);
    const role = board.identify(genuine(track), undefined, 0); // the shadow reassembler rebuilds it
    expect(role).toBe('first');
    board.judge(genuine(track), role, { kind: 'invalid', detail: 'expired' }, true);
    const { summary, failures } = board.result(OBSERVED);
    expect(summary).toMatchObject({ delivered: 0, verified: 0, lost: { total: 1, fragments: 1 } });
    expect(g.delivered).toBe(0);
    expect(failures).toEqual([]);
  });

  it('rebuilds fragments with the shadow reassembler when the gateway does not report its frame', () => {
    const board = new Scoreboard(1);
    const g = group();
    const profile = linkProfile('lorawan-eu868-dr0');
    const bytes = sealRecord({ version: 1, counter: 7, time: null, readings: Array.from({ length: 8 }, (_, i) => ({ channel: 1, value: 1000 * i })) }, KEY, { kid: true });
    const datagrams = fragment(bytes, profile, { tag: 7, hint: bytes.subarray(9, 11) });
    expect(datagrams.length).toBeGreaterThan(1);
    const track = newFrameTrack(bytes, 7, g);
    board.sealed(track);
    track.outstanding = datagrams.length;
    track.sendDone = true;
    const roles = datagrams.map((d, i) => board.identify(genuine(track, d, profile.name), undefined, i));
    expect(roles).toEqual([...datagrams.slice(1).map(() => 'none'), 'first']);
    expect(board.result(OBSERVED).summary.delivered).toBe(1);
  });

  it('counts an attack as detected when the gateway refuses it or answers it as a duplicate, and as a false accept otherwise', () => {
    const board = new Scoreboard(2);
    const attack = (kind: 'replay' | 'forge' | 'tamper'): Arrival => ({ datagram: frame(9), source: 'attacker:1', link: 'udp', track: null, attack: board.attackInjected(kind) });
    const forged = attack('forge');
    expect(board.identify(forged, null, 0)).toBe('attack');
    board.judge(forged, 'attack', { kind: 'rejected', code: 'bad-signature' }, true);
    board.judge(forged, 'attack', { kind: 'accepted', kid: 'k', counter: 9 }, true); // resolved already: ignored
    const replayed = attack('replay');
    board.judge(replayed, 'attack', { kind: 'accepted', kid: 'k', counter: 9, delivery: 'duplicate' }, true);
    const fragmentsReplayed = attack('replay');
    board.judge(fragmentsReplayed, 'attack', { kind: 'duplicate' }, true);
    const tampered = attack('tamper');
    board.judge(tampered, 'attack', { kind: 'accepted', kid: 'k', counter: 9 }, true);
    board.attackSkipped('replay');
    const { summary, attacks, failures } = board.result(OBSERVED);
    expect(summary).toMatchObject({ attacksInjected: 4, attacksDetected: 3, falseAccepts: 1, rejected: { 'bad-signature': 1, duplicate: 2 } });
    expect(attacks.replay).toEqual({ injected: 2, detected: 2, skipped: 1 });
    expect(attacks.forge).toEqual({ injected: 1, detected: 1, skipped: 0 });
    expect(attacks.tamper).toEqual({ injected: 1, detected: 0, skipped: 0 });
    expect(failures).toEqual(['1 attack or duplicate frames were accepted']);
  });

  it('fails an observable run where an attack got no verdict, but not an unobservable one (UDP)', () => {
    const observed = new Scoreboard(1);
    observed.attackInjected('forge');
    expect(observed.result(OBSERVED).failures).toEqual(['1 injected attacks got no verdict from the gateway']);
    const blind = new Scoreboard(1);
    const a: Arrival = { datagram: frame(1), source: 'attacker:1', link: 'udp', track: null, attack: blind.attackInjected('forge') };
    blind.judge(a, 'attack', { kind: 'unknown' }, false);
    const { summary, failures } = blind.result({ ...OBSERVED, observable: false });
    expect(summary.verified).toBeNull();
    expect(summary.falseAccepts).toBe(0);
    expect(failures).toEqual([]);
  });

  it('keeps the summary keys in order, with firmwareDevices only when some devices run the firmware', () => {
    expect(Object.keys(new Scoreboard(3).result(OBSERVED).summary)).toEqual([
      'devices', 'recordsSealed', 'datagrams', 'bytesOnAir', 'airtimeMs', 'dutyCycleViolations', 'delivered', 'verified', 'rejected', 'lost',
      'duplicatesSuppressed', 'attacksInjected', 'attacksDetected', 'falseAccepts', 'wallMs', 'simulatedMs',
    ]);
    const fw = new Scoreboard(3, 2).result({ ...OBSERVED, dutyCycleViolations: 2 });
    expect(Object.keys(fw.summary).slice(0, 3)).toEqual(['devices', 'firmwareDevices', 'recordsSealed']);
    expect(fw.summary.firmwareDevices).toBe(2);
    expect(fw.failures).toEqual(['2 uplinks broke the link\'s duty cycle, dwell time or daily budget']);
  });

  it('sums datagrams, bytes and airtime put on the air, rounding airtime to µs', () => {
    const board = new Scoreboard(1);
    board.onAir(new Uint8Array(10), 1.23456789, 1);
    board.onAir(new Uint8Array(5), 2, null);
    expect(board.result(OBSERVED).summary).toMatchObject({ datagrams: 2, bytesOnAir: 15, airtimeMs: 3.235 });
  });

  it('tallies genuine records by record version (attacks in the totals only), in the summary when version 2 is sealed', () => {
    const board = new Scoreboard(2, 0, [1, 2]);
    const v1 = group();
    const v2 = { ...group(), name: 'h', record: 2 as const };
    const a = newFrameTrack(new Uint8Array(100), 1, v1);
    const b = newFrameTrack(new Uint8Array(118), 1, v2);
    board.sealed(a);
    board.sealed(b);
    board.onAir(new Uint8Array(100), 10.5, 1);
    board.onAir(new Uint8Array(60), 6, 2);
    board.onAir(new Uint8Array(62), 6.25, 2);
    board.onAir(new Uint8Array(40), 3, null);
    const { summary } = board.result(OBSERVED);
    expect(summary.byRecordVersion).toEqual({
      v1: { records: 1, frameBytes: 100, datagrams: 1, bytesOnAir: 100, airtimeMs: 10.5 },
      v2: { records: 1, frameBytes: 118, datagrams: 2, bytesOnAir: 122, airtimeMs: 12.25 },
    });
    expect(summary).toMatchObject({ datagrams: 4, bytesOnAir: 262 });
    expect(Object.keys(summary).at(-1)).toBe('byRecordVersion');
    expect(() => new Scoreboard(1).onAir(new Uint8Array(1), 1, 2)).toThrow(/record version 2/);
  });
});
