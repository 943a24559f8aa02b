/**
 * Sweeps as PBS job arrays: the instances of one task submitted in the same batch, with the same
 * resources, dependencies and folder layout, become one array job (`#PBS -J` on PBS Pro/OpenPBS,
 * `#PBS -t` on Torque) whose script picks each instance's environment and command by the subjob
 * index. Which indices one array may hold is the flavor's (pbs-flavors.ts): PBS Pro takes only an
 * evenly spaced range, so other index sets are split into several arrays, and an index left alone
 * goes out as a job of its own. Pure.
 *
 * Each instance keeps its job folder `<jobsRoot>/<instance key>` and its `pbs.out`/`pbs.err` there:
 * PBS Pro writes them itself (`-o …/rpo.<run>.<task>.^array_index^.<attempt>/pbs.out`); Torque can
 * only append `-<index>` to one path, so there the array's own `-o`/`-e` go to the array folder
 * `<jobsRoot>/<array key>` and each branch redirects its output into its instance folder first.
 * The array folder also holds the array's script and the id qsub printed.
 *
 * Throttle and dependencies are per array job: `%<maxParallel>` limits the subjobs of one array,
 * so a sweep split into several arrays (or with instances that went singly) may run more than
 * maxParallel at once; and a dependent of instances waits for their whole array (pbs-commands.ts).
 */
import { checkpointLibExports } from '../../src/scheduler/checkpoint-helper.js'
import type { JobSubmission, SubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { asSubmissionKey } from '../../src/scheduler/scheduler-adapter.js'
import { scriptValueChecks } from '../../src/script/script-values.js'
import { quoteShellWord } from '../../src/script/shell-quote.js'
import { PBS_FLAVORS, type PbsFlavorName } from './pbs-flavors.js'
import { PBS_JOB_FILES } from './pbs-job-files.js'
import {
  buildPbsDirectives,
  buildPbsEnvExports,
  buildPbsSignalTimer,
  checkpointSignal,
  type PbsScriptOptions,
} from './pbs-script.js'
import { instanceKeyOf } from './pbs-subjobs.js'

const { noNul } = scriptValueChecks('PBS script')

/** A sweep's instances submitted as one array job. */
export interface PbsArrayUnit {
  /** The array key (`rpo.<run>.<task>.array.<attempt>`): what the array job is named after. */
  readonly key: SubmissionKey
  /** `<jobsRoot>/<array key>`: the array's script, its id, and (Torque) the server's own -o/-e. */
  readonly dir: string
  /** The instances, by ascending index. */
  readonly members: readonly JobSubmission[]
  readonly indices: readonly number[]
  readonly throttle: number | null
  /** `-o`/`-e` as qsub gets them (with the flavor's index token where it has one). */
  readonly stdout: string
  readonly stderr: string
}

/** A unit of a submission batch: one job, or a sweep's instances as one array job. */
export interface PbsBatchUnit {
  /** The job itself; for an array, the job the array is submitted as (its key, folder, dependencies). */
  readonly job: JobSubmission
  readonly array?: PbsArrayUnit
}

/** An instance that may share an array: its folder is `<root>/<its key>` and its key is its array key's. */
function arrayPlace(job: JobSubmission): { root: string; index: number } | null {
  const array = job.array
  if (array === undefined || instanceKeyOf(array.key, array.index) !== job.submissionKey) return null
  const dir = job.jobDir.replace(/\/+$/, '')
  const root = dir.slice(0, dir.length - job.submissionKey.length - 1)
  return dir === `${root}/${job.submissionKey}` && root.startsWith('/') ? { root, index: array.index } : null
}

/** What must be equal for instances to share one array job. */
function arrayShape(job: JobSubmission, root: string): string {
  return JSON.stringify([
    job.array?.key,
    job.array?.throttle ?? null,
    root,
    job.workDir,
    job.resources,
    job.dependsOn,
    job.project,
    job.partition ?? null,
    job.qos ?? null,
  ])
}

/**
 * Group a batch into units, keeping the batch order: an array sits where its first instance was.
 * Instances with `array` set, the same shape and the `<jobsRoot>/<key>` folder layout are combined
 * into the arrays the flavor can express (2+ indices each); everything else stays a job of its own.
 */
export function groupPbsSweeps(jobs: readonly JobSubmission[], flavor: PbsFlavorName): PbsBatchUnit[] {
  const byShape = new Map<string, { root: string; byIndex: Map<number, JobSubmission> }>()
  for (const job of jobs) {
    const place = arrayPlace(job)
    if (place === null) continue
    const shape = arrayShape(job, place.root)
    const entry = byShape.get(shape) ?? { root: place.root, byIndex: new Map() }
    byShape.set(shape, entry)
    // the same index twice cannot be one array: the second goes singly
    if (!entry.byIndex.has(place.index)) entry.byIndex.set(place.index, job)
  }
  const arrayOf = new Map<string, PbsArrayUnit>()
  for (const { root, byIndex } of byShape.values()) {
    const indices = [...byIndex.keys()].sort((a, b) => a - b)
    for (const group of PBS_FLAVORS[flavor].arrays.split(indices)) {
      const unit = arrayUnit(
        flavor,
        root,
        group.map((index) => byIndex.get(index) as JobSubmission),
      )
      for (const member of unit.members) arrayOf.set(member.submissionKey, unit)
    }
  }
  const units: PbsBatchUnit[] = []
  const placed = new Set<PbsArrayUnit>()
  for (const job of jobs) {
    const array = arrayOf.get(job.submissionKey)
    if (array === undefined || !array.members.includes(job)) {
      units.push({ job })
    } else if (!placed.has(array)) {
      placed.add(array)
      const first = array.members[0] as JobSubmission
      units.push({ job: { ...first, submissionKey: array.key, jobDir: array.dir }, array })
    }
  }
  return units
}

function arrayUnit(flavor: PbsFlavorName, root: string, members: readonly JobSubmission[]): PbsArrayUnit {
  const first = members[0] as JobSubmission
  const array = first.array as NonNullable<JobSubmission['array']>
  const dir = `${root}/${array.key}`
  const token = PBS_FLAVORS[flavor].arrays.pathIndexToken
  const streamsDir = token === null ? dir : `${root}/${instanceKeyOf(array.key, token)}`
  return {
    key: asSubmissionKey(array.key),
    dir,
    members,
    indices: members.map((m) => (m.array as NonNullable<JobSubmission['array']>).index),
    throttle: array.throttle,
    stdout: `${streamsDir}/${PBS_JOB_FILES.stdout}`,
    stderr: `${streamsDir}/${PBS_JOB_FILES.stderr}`,
  }
}

/**
 * The array job's script: the array's `#PBS` directives (the first instance's resources under the
 * array key, the flavor's array option, the array's -o/-e), then one `case` branch per instance
 * that does what the single-job template does — export its environment, cd, create its output
 * folder, arm the signal timer, exec its command — and, where the server cannot write each
 * instance's output to its folder (Torque), redirects it there first. An index without a branch
 * exits 3. `members` carry the commands as they must run (with the exit-status wrapper if any).
 * @throws RpoError('spec-invalid') as renderPbsScript does, or when the indices are not one array of the flavor.
 */
export function renderPbsArrayScript(
  unit: PbsArrayUnit,
  members: readonly JobSubmission[],
  options: PbsScriptOptions,
): string {
  const first = members[0] as JobSubmission
  const arrays = PBS_FLAVORS[options.flavor].arrays
  // `-r n` on an array where the server makes every array rerunnable could only get it refused
  const { rerunnable, ...rest } = options
  const keepRerunnable = rerunnable !== undefined && (rerunnable || !arrays.alwaysRerunnable)
  const directives = buildPbsDirectives(
    { ...first, submissionKey: unit.key, jobDir: unit.dir },
    {
      ...rest,
      ...(keepRerunnable ? { rerunnable } : {}),
      array: { indices: unit.indices, ...(unit.throttle === null ? {} : { maxConcurrent: unit.throttle }) },
      streams: { stdout: unit.stdout, stderr: unit.stderr },
    },
  )
  const indent = (lines: readonly string[]) => lines.filter((line) => line !== '').map((line) => `  ${line}`)
  const branches = members.flatMap((member, i) => {
    const dir = member.jobDir.replace(/\/+$/, '')
    const redirect =
      arrays.pathIndexToken === null
        ? [
            `exec >${quoteShellWord(`${dir}/${PBS_JOB_FILES.stdout}`)} 2>${quoteShellWord(`${dir}/${PBS_JOB_FILES.stderr}`)}`,
          ]
        : []
    return [
      `${unit.indices[i]})`,
      ...indent([
        `# rpo submission ${member.submissionKey}`,
        ...redirect,
        ...buildPbsEnvExports(member.env),
        ...checkpointLibExports(member),
        `cd -- ${quoteShellWord(noNul('workDir', member.workDir))} || exit 1`,
        `[ -z "\${RPO_OUTPUT_DIR:-}" ] || mkdir -p -- "$RPO_OUTPUT_DIR" || exit 1`,
        ...buildPbsSignalTimer(member, checkpointSignal(member, options.signal)).split('\n'),
        `exec /bin/bash -c ${quoteShellWord(noNul('command', member.command))}`,
        ';;',
      ]),
    ]
  })
  const index = `\${${arrays.indexVariable}:-}`
  return [
    '#!/bin/bash',
    ...directives.map((d) => `#PBS ${d}`),
    '',
    `# rpo sweep ${unit.key}: one branch per instance, chosen by $${arrays.indexVariable}`,
    `case "${index}" in`,
    ...branches,
    '*)',
    `  echo "rpo: no instance for array index \${${arrays.indexVariable}:-unset}" >&2`,
    '  exit 3',
    '  ;;',
    'esac',
    '',
  ].join('\n')
}
