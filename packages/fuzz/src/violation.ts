/** An input broke one of a target's invariants: a finding, like a crash. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

/** Throws {@link InvariantViolation} with `message` unless `condition` holds. */
export function check(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantViolation(typeof message === 'string' ? message : message());
}
