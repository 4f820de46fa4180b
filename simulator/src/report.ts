import { formatDuration } from './duration.js';
import type { RunResult } from './simulation.js';
import type { ByRecordVersion, RecordVersionTally, Summary } from './scoreboard.js';

/** One line per record version of the run: what its genuine records cost, in all and per record. */
function versionLines(byVersion: ByRecordVersion): string[] {
  return (Object.entries(byVersion) as Array<[string, RecordVersionTally]>).map(([v, t]) => {
    const per = t.records > 0 ? `; per record ${(t.frameBytes / t.records).toFixed(1)} bytes sealed, ${(t.bytesOnAir / t.records).toFixed(1)} on air, ${(t.airtimeMs / t.records).toFixed(1)} ms` : '';
    return `  record ${v}            ${t.records} records: ${t.frameBytes} bytes sealed, ${t.bytesOnAir} bytes on air in ${t.datagrams} datagrams, ${(t.airtimeMs / 1000).toFixed(1)} s on air${per}`;
  });
}

/** The summary as a few aligned lines for people (stdout without --json). */
export function formatSummary(r: RunResult): string {
  const s = r.summary;
  const rejected = Object.entries(s.rejected).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const lost = Object.entries(s.lost).filter(([k, v]) => k !== 'total' && v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
  const speed = s.wallMs > 0 ? ` (${Math.round(s.simulatedMs / s.wallMs)}x real time)` : '';
  const lines = [
    `sceau-sim: seed ${JSON.stringify(r.seed)}, gateway ${r.gateway}`,
    ...r.groups.map((g) => `  group ${g.name}: ${g.devices} devices on ${g.link}, record version ${g.record}, a sample every ${formatDuration(g.intervalMs)}, ${g.batch.rounds} per record (frames up to ${g.batch.frameBytes} bytes)${g.batch.sustainable ? '' : ', MORE DATA THAN THE LINK BUDGET CARRIES'}; ${g.reboots} power cuts, ${g.sensorFaults} sensor faults`),
    `  devices              ${s.devices}${(s.firmwareDevices ?? 0) > 0 ? ` (${s.firmwareDevices} real firmware in DeviceScript VMs)` : ''}`,
    `  records sealed       ${s.recordsSealed}`,
    `  datagrams            ${s.datagrams} (${s.bytesOnAir} bytes, ${(s.airtimeMs / 1000).toFixed(1)} s on air)`,
    ...versionLines(r.byRecordVersion),
    `  duty-cycle violations ${s.dutyCycleViolations}`,
    `  delivered            ${s.delivered}${s.verified === null ? ' sent whole to the gateway; whether it stored them is not observable over UDP (count them in its database or /metrics)' : ''}`,
    `  verified             ${s.verified === null ? 'not observable over UDP' : s.verified}`,
    `  rejected             ${rejected}`,
    `  lost                 ${s.lost.total}${lost ? ` (${lost})` : ''}`,
    `  duplicates suppressed ${s.duplicatesSuppressed}`,
    `  attacks              ${s.attacksInjected} injected, ${s.attacksDetected} detected, ${s.falseAccepts} false accepts`,
    `  time                 ${formatDuration(s.simulatedMs)} simulated in ${(s.wallMs / 1000).toFixed(1)} s${speed}`,
  ];
  if (r.firmware !== null) {
    const f = r.firmware;
    lines.push(`  firmware VMs         ${f.devices} devices, ${f.frames} frames sealed by the firmware, ${f.boots} boots, ${f.steps} VM steps, ${(f.vmMs / 1000).toFixed(1)} s in the VMs${f.frames > 0 ? ` (${(f.vmMs / f.frames).toFixed(1)} ms per frame)` : ''}${f.buildMs > 0 ? `, image built in ${(f.buildMs / 1000).toFixed(1)} s` : ''}`);
  }
  lines.push(r.failures.length === 0 ? 'PASS' : `FAIL\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
  return lines.join('\n');
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

interface Case {
  name: string;
  failure?: string;
  out?: string;
}

/** JUnit XML (the Ant schema CI systems read): one test case per property the run must hold. */
export function formatJunit(r: RunResult): string {
  const s: Summary = r.summary;
  const genuine = Object.values(r.genuineRejected).reduce((a, b) => a + b, 0);
  const noVerdict = s.attacksInjected - s.attacksDetected - s.falseAccepts;
  const cases: Case[] = [
    {
      name: 'link rules respected (duty cycle per sub-band, dwell time, daily uplinks)',
      ...(s.dutyCycleViolations > 0 ? { failure: `${s.dutyCycleViolations} violations; first: ${r.violations.slice(0, 5).map((v) => `device ${v.device} at ${v.t} ms: ${v.rule}: ${v.detail}`).join('; ')}` } : {}),
    },
    { name: 'no attack accepted', ...(s.falseAccepts > 0 ? { failure: `${s.falseAccepts} attack or duplicate frames accepted` } : {}), out: JSON.stringify(r.attacks) },
    { name: 'every attack detected', ...(s.verified !== null && noVerdict > 0 ? { failure: `${noVerdict} attacks got no verdict` } : {}) },
    { name: 'every record sent before the drain time ended', ...(s.lost.unsent > 0 ? { failure: `${s.lost.unsent} records still queued: lengthen --drain or send less` } : {}) },
    { name: 'no delivered genuine frame rejected', ...(genuine > 0 ? { failure: `${genuine} rejected: ${JSON.stringify(r.genuineRejected)}` } : {}) },
    ...r.groups.map((g) => ({ name: `group ${g.name}: ${g.recordsSealed} records, ${g.delivered} delivered, ${g.lost} lost (explained)`, out: JSON.stringify(g) })),
  ];
  const failures = cases.filter((c) => c.failure !== undefined).length;
  const seconds = (s.wallMs / 1000).toFixed(3);
  const body = cases
    .map((c) => {
      const inner = (c.failure !== undefined ? `\n      <failure message="${xml(c.failure)}">${xml(c.failure)}</failure>` : '') + (c.out !== undefined ? `\n      <system-out>${xml(c.out)}</system-out>` : '');
      return `    <testcase classname="sceau-sim" name="${xml(c.name)}" time="0">${inner}${inner ? '\n    ' : ''}</testcase>`;
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="sceau-sim" tests="${cases.length}" failures="${failures}" errors="0" time="${seconds}">
  <testsuite name="sceau-sim seed=${xml(r.seed)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${seconds}">
    <properties>
      <property name="seed" value="${xml(r.seed)}"/>
      <property name="gateway" value="${xml(r.gateway)}"/>
      <property name="summary" value="${xml(JSON.stringify(s))}"/>
    </properties>
${body}
  </testsuite>
</testsuites>
`;
}
