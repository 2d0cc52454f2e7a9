/** Rounding as numpy and torch do it, where JavaScript's Math.round (half up) differs. */

/** Round half to even (numpy's round, torch's nearbyint): 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round takes halves up; at an exact half, step back when that landed on an odd number.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
