/**
 * The 22.05 testbed captures (fixtures/testbed-22.05), read as rpo's current argv would print them.
 * The sacct captures were taken before TRESUsageInTot joined SACCT_FIELDS as its last column; a
 * cluster that gathers no GPU accounting prints nothing rpo reads there, so each captured line gets
 * the one empty trailing cell the newer argv adds. Everything else is the capture as it was.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SACCT_DELIMITER, SACCT_FIELDS } from '../../../adapters/slurm/sacct-parser.js'

export const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')
const COLUMNS_WHEN_CAPTURED = SACCT_FIELDS.indexOf('TRESUsageInTot')

export function testbedCapture(name: string): string {
  const text = readFileSync(join(TESTBED, name), 'utf8')
  if (!name.startsWith('sacct-')) return text
  return text
    .split('\n')
    .map((line) =>
      line.trim() === '' || line.split(SACCT_DELIMITER).length !== COLUMNS_WHEN_CAPTURED
        ? line
        : `${line}${SACCT_DELIMITER}`,
    )
    .join('\n')
}
