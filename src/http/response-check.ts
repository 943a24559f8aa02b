/**
 * What a route answers, checked against its documented response schema. The schemas are strict and
 * tied to the library's types at compile time (schemas/mirror.ts), so a field they do not know can
 * only come from data the types do not describe: a stored JSON column written by another rpo
 * version, say. Such a field is left out and the server log names it (a warning), rather than
 * failing every read of that record with a 500; any other mismatch is a bug and fails the request.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { z } from 'zod'

export function checkedResponse(schema: z.ZodType, result: unknown, log: FastifyBaseLogger): unknown {
  const parsed = schema.safeParse(result)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues
  if (!issues.every((issue) => issue.code === 'unrecognized_keys')) throw parsed.error
  const copy = structuredClone(result)
  const fields: string[] = []
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue
    const holder = issue.path.reduce<unknown>(
      (value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key],
      copy,
    ) as Record<string, unknown> | undefined
    for (const key of issue.keys) {
      if (holder) delete holder[key]
      fields.push([...issue.path, key].join('.'))
    }
  }
  log.warn({ fields }, 'response fields the API does not document were left out')
  return schema.parse(copy)
}
