// The sceau CLI and gateway: filled by issue 4.
export {};
