/**
 * How deep arrays and objects nest, without recursion. JSON.parse copes with 100 000 nested
 * arrays, but JSON.stringify, String() and any recursive walk over the result overflow the stack;
 * every message is measured with this before anything recursive touches it.
 */

/** The deepest nesting a message may have. Debezium envelopes with schemas nest about 6 levels. */
export const MAX_NESTING = 64;

/** True when `v` nests arrays/objects deeper than `max` levels (a scalar is level 0). */
export function nestsDeeperThan(v: unknown, max: number = MAX_NESTING): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const stack: [object, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    if (Buffer.isBuffer(node) || ArrayBuffer.isView(node)) continue;
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
  }
  return false;
}
