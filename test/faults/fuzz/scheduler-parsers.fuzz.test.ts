// Every parser of scheduler output, fed real output (../shared/fixtures and the testbed's own)
// cut, spliced, re-wrapped and salted with binary: each input gets records or a ParseError naming
// the command — never a TypeError, RangeError, stack overflow or hang. The parse is followed by
// the mapping to observations, as the adapters do. RPO_FUZZ_RUNS=10000 for the nightly size.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { parseQsubOutput } from '../../../adapters/pbs/pbs-commands.js'
import { detectPbsFlavor } from '../../../adapters/pbs/pbs-flavors.js'
import { toPbsJobObservations } from '../../../adapters/pbs/pbs-job-record.js'
import { parsePbsJson } from '../../../adapters/pbs/pbs-json.js'
import { parsePbsDurationSeconds, parsePbsSizeMb, parsePbsTimestamp } from '../../../adapters/pbs/pbs-units.js'
import { parsePbsnodesJson, parsePbsnodesText, parsePbsnodesXml } from '../../../adapters/pbs/pbsnodes-parser.js'
import { parseQstatJson } from '../../../adapters/pbs/qstat-json-parser.js'
import { parseQstatText } from '../../../adapters/pbs/qstat-text-parser.js'
import { parseQstatXml } from '../../../adapters/pbs/qstat-xml-parser.js'
import { parseSacct, parseSacctJobId, sacctToJobObservations } from '../../../adapters/slurm/sacct-parser.js'
import { parseGresGpus, parseSinfoNodes, parseSlurmVersion } from '../../../adapters/slurm/sinfo-parser.js'
import { parseSbatchParsable } from '../../../adapters/slurm/slurm-commands.js'
import { expandSlurmHostlist } from '../../../adapters/slurm/slurm-hostlist.js'
import {
  parseSlurmDurationSeconds,
  parseSlurmMemoryMb,
  parseSlurmReqMem,
  parseSlurmTimestamp,
  parseSlurmTres,
} from '../../../adapters/slurm/slurm-time.js'
import { parseSqueue, squeueToJobObservations } from '../../../adapters/slurm/squeue-parser.js'
import { sharedFixture } from '../../support/shared-fixtures.js'
import { printFigures } from '../support/fault-figures.js'
import { FUZZ_RUNS, FUZZ_SEED, fuzzParameters, mutatedFrom, returnsOrTypedError } from '../support/fuzz-inputs.js'

const TESTBED = path.resolve(import.meta.dirname, '../../adapters/slurm/fixtures/testbed-22.05')

/** Every file under these folders (recursively), as text. */
function corpus(...folders: string[]): string[] {
  const files: string[] = []
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const f of readdirSync(p)) walk(path.join(p, f))
    else files.push(readFileSync(p, 'latin1'))
  }
  for (const folder of folders) walk(folder)
  return files
}

const slurmOwn = corpus(TESTBED)
const sacct = [...slurmOwn, ...corpus(sharedFixture('slurm', 'sacct'))]
const squeue = [...slurmOwn, ...corpus(sharedFixture('slurm', 'squeue'))]
const sinfo = [...slurmOwn, ...corpus(sharedFixture('slurm', 'sinfo'))]
const scontrol = corpus(sharedFixture('slurm', 'scontrol'))
const slurmValues = [
  '1-02:03:04',
  '00:10:00',
  'UNLIMITED',
  '2026-01-02T03:04:05',
  'Unknown',
  '4000M',
  '16Gn',
  '2Gc',
  'cpu=4,mem=16G,node=1,billing=4,gres/gpu=2,gres/gpu:a100=2',
  'gpu[1-3,7],cpu[01-12]',
  'gpu:a100:4(S:0-1),gpu:v100:2',
  '1234_[1-5%2]',
  '1234_7',
  '1234+1',
  '1234.batch',
  'slurm 22.05.8',
]
const qstatText = corpus(
  sharedFixture('pbspro', 'qstat_f'),
  sharedFixture('pbspro', 'qstat_xf'),
  sharedFixture('torque', 'qstat_f'),
)
const qstatJson = corpus(sharedFixture('pbspro', 'qstat_f_json'), sharedFixture('pbspro', 'qstat_Q_f_json'))
const qstatXml = corpus(sharedFixture('torque', 'qstat_x'))
const pbsnodesText = corpus(sharedFixture('pbspro', 'pbsnodes'), sharedFixture('torque', 'pbsnodes'))
const pbsnodesXml = corpus(sharedFixture('torque', 'pbsnodes_x'))
const pbsnodesJson = [
  ...corpus(sharedFixture('pbspro', 'pbsnodes_avSj')).filter((t) => t.trimStart().startsWith('{')),
  '{"nodes":{"gpu01":{"state":"free","resources_available":{"ncpus":64,"mem":"514260mb","ngpus":4,"gputype":"a100","Qlist":"gpu"}}}}',
]
const pbsValues = [
  '01:02:03',
  '3600',
  '16gb',
  '512mb',
  '1tb',
  'Mon Dec  1 10:00:00 2025',
  '1700000000',
  '123.server',
  '12[].pbs01',
  'pbs_version = 2022.1.1',
  'Version: 6.1.2',
]

const targets: [string, string[], (input: string) => unknown][] = [
  ['sacct (rpo fields)', sacct, (s) => sacctToJobObservations(parseSacct(s))],
  ['sacct (from header, |)', sacct, (s) => sacctToJobObservations(parseSacct(s, 'from-header', { delimiter: '|' }))],
  ['sacct job id', [...slurmValues, ...sacct.slice(0, 3)], (s) => parseSacctJobId(s)],
  ['squeue', squeue, (s) => squeueToJobObservations(parseSqueue(s))],
  ['sinfo', sinfo, (s) => parseSinfoNodes(s)],
  ['sinfo version / GRES', [...slurmValues, ...sinfo], (s) => [parseSlurmVersion(s), parseGresGpus(s)]],
  ['sbatch --parsable', ['1234\n', '1234;rpotestbed\n', 'Submitted batch job 12\n'], (s) => parseSbatchParsable(s)],
  [
    'scontrol values',
    [...slurmValues, ...scontrol],
    (s) => [
      parseSlurmDurationSeconds(s),
      parseSlurmTimestamp(s),
      parseSlurmMemoryMb(s),
      parseSlurmReqMem(s),
      parseSlurmTres(s),
    ],
  ],
  ['Slurm hostlist', slurmValues, (s) => expandSlurmHostlist(s)],
  ['qstat -f text', qstatText, (s) => toPbsJobObservations(parseQstatText(s))],
  ['qstat -f -F json', qstatJson, (s) => toPbsJobObservations(parseQstatJson(s))],
  ['qstat -x XML (Torque)', qstatXml, (s) => toPbsJobObservations(parseQstatXml(s), { family: 'torque' })],
  ['pbsnodes text', pbsnodesText, (s) => parsePbsnodesText(s)],
  ['pbsnodes -x XML', pbsnodesXml, (s) => parsePbsnodesXml(s)],
  ['pbsnodes JSON', pbsnodesJson, (s) => [parsePbsnodesJson(s), parsePbsJson(s, 'pbsnodes')]],
  [
    'PBS values',
    pbsValues,
    (s) => [
      parsePbsDurationSeconds(s),
      parsePbsSizeMb(s),
      parsePbsTimestamp(s),
      parseQsubOutput(s),
      detectPbsFlavor(s),
    ],
  ],
]

describe('scheduler output parsers under fuzzing', () => {
  it.each(targets)(
    '%s: records or a typed error for every input',
    (name, seeds, parse) => {
      fc.assert(
        fc.property(mutatedFrom(seeds), (input) => {
          returnsOrTypedError(name, () => parse(input))
        }),
        fuzzParameters(),
      )
    },
    600_000,
  )

  it('prints its figures', () => {
    printFigures('fuzz-parsers', { seed: FUZZ_SEED, targets: targets.length, casesPerTarget: FUZZ_RUNS, crashes: 0 })
  })
})
