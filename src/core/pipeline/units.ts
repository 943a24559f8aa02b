/**
 * Human units in pipeline files: durations (`90s`, `1h30m`, `2d`, `01:30:00`) and memory sizes
 * (`512M`, `16G`, `1.5T`). Pure parsing into seconds and megabytes; `null` means "not a valid value".
 */

const DURATION_PART = /(\d+(?:\.\d+)?)\s*(ms|secs|sec|s|mins|min|m|hrs|hr|h|days|day|d|w)/gy
const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  sec: 1,
  secs: 1,
  m: 60,
  min: 60,
  mins: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  d: 86400,
  day: 86400,
  days: 86400,
  w: 604800,
}

/** Parse a duration into seconds. Accepts a number (seconds), `1h30m`, `2d`, `HH:MM:SS`, `D-HH:MM:SS`. */
export function parseDurationSeconds(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null
  const text = value.trim().toLowerCase()
  if (text === '') return null
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  const clock = /^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?$/.exec(text)
  if (clock) {
    const [, days, a, b, c] = clock
    const [h, m, s] = c === undefined ? [0, Number(a), Number(b)] : [Number(a), Number(b), Number(c)]
    return Number(days ?? 0) * 86400 + h * 3600 + m * 60 + s
  }
  let total = 0
  let consumed = 0
  DURATION_PART.lastIndex = 0
  const compact = text.replaceAll(' ', '')
  for (let match = DURATION_PART.exec(compact); match; match = DURATION_PART.exec(compact)) {
    total += Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number)
    consumed = DURATION_PART.lastIndex
  }
  return consumed === compact.length && consumed > 0 ? total : null
}

const MEMORY_UNIT_MB: Record<string, number> = {
  k: 1 / 1024,
  kb: 1 / 1024,
  kib: 1 / 1024,
  m: 1,
  mb: 1,
  mib: 1,
  g: 1024,
  gb: 1024,
  gib: 1024,
  t: 1024 * 1024,
  tb: 1024 * 1024,
  tib: 1024 * 1024,
}

/** Parse a memory size into megabytes (MiB). A bare number is megabytes, as in Slurm's `--mem`. */
export function parseMemoryMb(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
  if (!match) return null
  const unit = (match[2] ?? '').toLowerCase()
  const factor = unit === '' ? 1 : MEMORY_UNIT_MB[unit]
  return factor === undefined ? null : Math.ceil(Number(match[1]) * factor)
}

/** `3725` → `1h02m05s`; for progress displays. */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)}s`
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = s % 60
  const pad = (n: number) => String(n).padStart(2, '0')
  if (d > 0) return `${d}d${pad(h)}h${pad(m)}m`
  if (h > 0) return `${h}h${pad(m)}m${pad(rest)}s`
  return `${m}m${pad(rest)}s`
}
