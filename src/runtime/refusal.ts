/** A start-up refusal: printed as is, exit code 2 (a store that cannot be opened, an unsafe admin address). */
export class StartRefusal extends Error {}
