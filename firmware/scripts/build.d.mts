// Types of build.mjs for TypeScript callers (the tests, tests/tsconfig.json).

/** The path of the pinned DeviceScript CLI's entry script. */
export function devsCli(): string;

/**
 * Compiles `entry` (relative to firmware/, e.g. "src/vectors-main.ts"); `replace` maps relative
 * paths to new file contents for this build only. `sizes` is the compiler's bytecode-sizes.md text.
 */
export function buildEntry(entry: string, replace?: Record<string, string>): { binary: Uint8Array; sizes: string };

/** src/config.ts with some constants replaced: `{ LINK: "tcp", TCP_PORT: 1234 }`. */
export function configSource(overrides?: Record<string, unknown>): string;
