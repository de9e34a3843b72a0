// Windowing arithmetic for virtualised lists: which items a viewport shows.

/** Items [first, last) visible in a viewport at `scroll` of size `extent`, plus `overscan` each side. */
export function visibleRange(scroll: number, extent: number, count: number, pitch: number, overscan = 6): [number, number] {
  if (count <= 0 || pitch <= 0) return [0, 0];
  const first = Math.min(count, Math.max(0, Math.floor(scroll / pitch) - overscan));
  const last = Math.min(count, Math.max(0, Math.ceil((scroll + extent) / pitch) + overscan));
  return [first, Math.max(first, last)];
}
