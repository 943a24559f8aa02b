/** Repeat a measurement and report median and p99 (this machine is shared and noisy: medians, not means). */
export interface Measurement {
  readonly name: string
  readonly runs: number
  readonly medianMs: number
  readonly p99Ms: number
}

/**
 * @param warmup calls made and not timed first: a long-running rpo (the daemon, `rpo run`) decides
 *   every tick, so the figure that matters is the JIT-compiled steady state, not the first call
 */
export async function measure(
  name: string,
  runs: number,
  fn: () => unknown | Promise<unknown>,
  warmup = 0,
): Promise<Measurement> {
  for (let i = 0; i < warmup; i++) await fn()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] as number
  return { name, runs, medianMs: at(0.5), p99Ms: at(0.99) }
}

export function report(m: Measurement, note = ''): void {
  console.log(
    `${m.name.padEnd(58)} median ${m.medianMs.toFixed(1).padStart(8)} ms   p99 ${m.p99Ms.toFixed(1).padStart(8)} ms   (${m.runs} runs)${note ? `  ${note}` : ''}`,
  )
}
