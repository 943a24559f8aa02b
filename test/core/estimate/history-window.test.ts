/** History window bounds as people write them, and CSV as RFC 4180 writes it (pure). */
import { describe, expect, it } from 'vitest'
import { parseHistoryTime } from '../../../src/core/estimate/history-window.js'
import { csvField, toCsv } from '../../../src/core/text/csv.js'

const NOW = Date.parse('2026-12-05T10:00:00Z')

describe('parseHistoryTime', () => {
  it('reads times before now', () => {
    expect(parseHistoryTime('7d', NOW, '--since')).toBe('2026-11-28T10:00:00.000Z')
    expect(parseHistoryTime('24h', NOW, '--since')).toBe('2026-12-04T10:00:00.000Z')
    expect(parseHistoryTime('90m', NOW, '--since')).toBe('2026-12-05T08:30:00.000Z')
    expect(parseHistoryTime(' 2w ', NOW, '--since')).toBe('2026-11-21T10:00:00.000Z')
  })

  it('reads ISO dates and date-times, UTC unless zoned', () => {
    expect(parseHistoryTime('2026-11-01', NOW, '--since')).toBe('2026-11-01T00:00:00.000Z')
    expect(parseHistoryTime('2026-11-01T08:00', NOW, '--since')).toBe('2026-11-01T08:00:00.000Z')
    expect(parseHistoryTime('2026-11-01T08:00:30.5Z', NOW, '--since')).toBe('2026-11-01T08:00:30.500Z')
    expect(parseHistoryTime('2026-11-01T08:00+01:00', NOW, '--since')).toBe('2026-11-01T07:00:00.000Z')
  })

  it.each(['last tuesday', '7', '7 days', '1e3h', '2026-02-30', '2026-13-01', '2026-11-01T24:00', '-1d', ''])(
    'refuses %j, naming the option and the forms',
    (text) => {
      expect(() => parseHistoryTime(text, NOW, '--until')).toThrow(
        expect.objectContaining({ code: 'usage', message: expect.stringMatching(/^--until takes an ISO date .* 7d/) }),
      )
    },
  )
})

describe('CSV (RFC 4180)', () => {
  it('quotes fields with commas, quotes, line breaks or edge spaces, and ends records with CRLF', () => {
    expect(csvField('plain')).toBe('plain')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('two\nlines')).toBe('"two\nlines"')
    expect(csvField(' padded')).toBe('" padded"')
    expect(csvField(null)).toBe('')
    expect(csvField(0.25)).toBe('0.25')
    expect(csvField(Number.NaN)).toBe('')
    expect(
      toCsv(
        ['stage', 'note'],
        [
          ['train', 'x,"y"'],
          ['eval', null],
        ],
      ),
    ).toBe('stage,note\r\ntrain,"x,""y"""\r\neval,\r\n')
  })
})
