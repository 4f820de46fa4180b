import fc from 'fast-check';
import { MAX_UINT, MIN_INT, type SceauRecord } from '@sceau/protocol';

const uint32 = fc.integer({ min: 0, max: MAX_UINT });
const readingArb = fc.record(
  { channel: uint32, value: fc.integer({ min: MIN_INT, max: MAX_UINT }), age: fc.integer({ min: 1, max: MAX_UINT }) },
  { requiredKeys: ['channel', 'value'] },
);

/** Any record of the v1 schema. */
export const recordArb: fc.Arbitrary<SceauRecord> = fc.record({
  version: fc.constant(1 as const),
  counter: fc.integer({ min: 1, max: MAX_UINT }),
  time: fc.option(uint32, { nil: null }),
  readings: fc.array(readingArb, { minLength: 1, maxLength: 20 }),
});
