/**
 * Assertions state invariants where they hold. They stay on in production: a broken invariant in a
 * consensus protocol must stop the node, not corrupt the cluster's order.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
  readonly code = 'TOTEM_ERR_ENGINE_FATAL';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, message: string): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
