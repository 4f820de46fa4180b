// @sceau/protocol loads: the tables it builds on import (the channel registry, whose constructor
// refuses a duplicate id or name, and toUnit's power-of-ten table) are built without throwing.
//
// The import is dynamic and inside the test on purpose. A test file whose static import throws
// collects no test at all, and Stryker's vitest runner then scores the mutant that broke the
// import as survived, since no test failed (stryker-js#6150): every file that imports the
// protocol statically is blind to such a mutant. Here a module that cannot load is a failed test.
import { describe, expect, it } from 'vitest';

describe('@sceau/protocol loads', () => {
  it('imports without throwing and its built-in tables answer', async () => {
    const protocol = await import('@sceau/protocol');
    // the registry was built from the built-in list (its duplicate checks passed on every entry)
    expect(protocol.channels.list().length).toBeGreaterThanOrEqual(17);
    expect(protocol.channels.get('temperature')?.id).toBe(1);
    // toUnit on a scale of the power-of-ten table (0.01) and on scale 1
    expect(protocol.channels.toUnit(1, 2150)).toBe(21.5);
    expect(protocol.channels.toUnit(3, 101325)).toBe(101325);
    expect(protocol.linkProfiles).toBeDefined();
  });
});
