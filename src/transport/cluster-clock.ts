/** The cluster's UTC offset: schedulers print local wall-clock times without one. */
import type { Transport } from './transport.js'

/** `date +%z` on the target, in minutes east of UTC; 0 when the answer is not an offset. */
export async function readUtcOffsetMinutes(transport: Transport): Promise<number> {
  const result = await transport.exec(['date', '+%z'], { idempotent: true, timeoutMs: 30_000 })
  const match = /^([+-])(\d{2})(\d{2})$/.exec(result.stdout.trim())
  return match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0
}
