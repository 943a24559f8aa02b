// A response checked against its strict schema: a field the schema does not know (data written by
// another rpo version) is left out and named in the server log, not a 500 on every read of it; a
// field of the wrong type is still a bug that fails the request.
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { checkedResponse } from '../../src/http/response-check.js'

const Schema = z.strictObject({
  id: z.string(),
  usage: z.strictObject({ cpuSeconds: z.number().optional() }).nullable(),
  items: z.array(z.strictObject({ n: z.number() })),
})

function logger() {
  const warnings: { fields: string[]; message: string }[] = []
  return {
    warnings,
    log: { warn: (obj: { fields: string[] }, message: string) => warnings.push({ ...obj, message }) } as never,
  }
}

describe('checkedResponse', () => {
  it('answers a valid response as it is, with nothing logged', () => {
    const { warnings, log } = logger()
    const body = { id: 'r1', usage: { cpuSeconds: 3 }, items: [{ n: 1 }] }
    expect(checkedResponse(Schema, body, log)).toEqual(body)
    expect(warnings).toEqual([])
  })

  it('leaves out fields the schema does not know, at any depth, and names them in the log', () => {
    const { warnings, log } = logger()
    const body = { id: 'r1', extra: 1, usage: { cpuSeconds: 3, oldField: 'x' }, items: [{ n: 1 }, { n: 2, m: 3 }] }
    expect(checkedResponse(Schema, body, log)).toEqual({
      id: 'r1',
      usage: { cpuSeconds: 3 },
      items: [{ n: 1 }, { n: 2 }],
    })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.fields.sort()).toEqual(['extra', 'items.1.m', 'usage.oldField'])
    // the caller's object is not changed
    expect(body.usage).toEqual({ cpuSeconds: 3, oldField: 'x' })
  })

  it('fails on a field of the wrong type, unknown fields or not', () => {
    const { log } = logger()
    expect(() => checkedResponse(Schema, { id: 7, usage: null, items: [] }, log)).toThrow()
    expect(() => checkedResponse(Schema, { id: 7, usage: null, items: [], extra: 1 }, log)).toThrow()
  })
})
