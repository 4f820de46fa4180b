// The fleet simulator: filled by issue 5.
export {};
