/** What every response schema uses: ISO times and the error body. */
import { z } from 'zod'

export const iso = z.string().describe('ISO 8601 time, UTC')
export const isoOrNull = iso.nullable()

export const ErrorSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().describe('stable: branch on it, never on the message'),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error' })
