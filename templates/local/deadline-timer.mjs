// Timers for time limits of any length. setTimeout takes at most 2^31-1 ms (about 24.8 days) and fires
// a longer delay at once, so a long wait is armed in steps, each re-armed until the deadline is reached.
import { performance } from 'node:perf_hooks'

const MAX_DELAY_MS = 2 ** 31 - 1

/**
 * Call `action` once, `delayMs` from now (on the monotonic clock, like setTimeout). `keepAlive: false`
 * lets the process exit while the timer is still armed. Returns a function that cancels it.
 */
export function afterDelay(delayMs, action, { keepAlive = true } = {}) {
  const deadline = performance.now() + Math.max(0, delayMs)
  let timer = null
  const arm = () => {
    const left = deadline - performance.now()
    if (left <= 0) {
      timer = null
      action()
      return
    }
    timer = setTimeout(arm, Math.min(Math.ceil(left), MAX_DELAY_MS))
    if (!keepAlive) timer.unref()
  }
  timer = setTimeout(arm, Math.min(Math.max(0, delayMs), MAX_DELAY_MS))
  if (!keepAlive) timer.unref()
  return () => {
    if (timer !== null) clearTimeout(timer)
    timer = null
  }
}
