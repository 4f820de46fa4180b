/**
 * Exit statuses of the sceau command-line family, one table for `sceau` and `sceau-sim` (the
 * simulator imports it from @sceau/host-tools; STYLE.md): 0 ok, 1 verification or run failed,
 * 2 usage, 3 I/O or device, 4 internal. Scripts rely on them: they never change.
 */
export const EXIT = {
  ok: 0,
  /** `sceau`: a frame was rejected or left incomplete. */
  verificationFailed: 1,
  /** `sceau-sim`: the run failed a check (an attack accepted, a genuine frame rejected, ...); the same status. */
  failed: 1,
  usage: 2,
  io: 3,
  internal: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
