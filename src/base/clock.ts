// The wall clock of quotas and metering. Production reads Date.now(); tests move it:
// in-process by replacing `clock.now`, across processes with NORTHGATE_TEST_CLOCK=<ISO time>
// (read once at start: the clock then runs from that instant at the real pace).
const start = process.env['NORTHGATE_TEST_CLOCK'];
const offset = start === undefined ? 0 : Date.parse(start) - Date.now();

export const clock: { now: () => number } = {
  now: offset === 0 || Number.isNaN(offset) ? Date.now : () => Date.now() + offset,
};
