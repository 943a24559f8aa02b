// The PBS adapter's remote scripts, built here and run with the local bash against fake qsub/qdel
// commands: heredocs stay byte-exact, in-batch dependencies travel through shell variables, a refused
// upstream keeps its dependents back, and the answers parse.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { groupPbsSweeps } from '../../../adapters/pbs/pbs-array.js'
import type { PbsFlavorName } from '../../../adapters/pbs/pbs-flavors.js'
import {
  buildMarkAndDeleteScript,
  buildReadJobFilesScript,
  PBS_JOB_FILES,
  parseReadJobFilesOutput,
  withExitStatusFile,
} from '../../../adapters/pbs/pbs-job-files.js'
import {
  buildQsubBatchScript,
  cleanQsubMessage,
  parseQsubBatchOutput,
  type QsubBatchJob,
} from '../../../adapters/pbs/qsub-batch.js'
import { ParseError, RpoError } from '../../../src/core/errors.js'
import {
  asNativeJobId,
  asSubmissionKey,
  type JobDependency,
  type JobSubmission,
} from '../../../src/scheduler/scheduler-adapter.js'

const WORK = mkdtempSync(join(tmpdir(), 'rpo-qsub-batch-'))
afterAll(() => rmSync(WORK, { recursive: true, force: true }))

// qsub: one notice line, then `<n>.fakesrv` (`<n>[].fakesrv` for an array); refuses a script that
// contains REFUSE; logs its argv
const FAKE_QSUB = `#!/bin/bash
printf '%s\\n' "$*" >>"$FAKE_LOG"
if grep -q REFUSE "\${@: -1}"; then echo "qsub: Unknown queue" >&2; echo "(see the site docs)" >&2; exit 1; fi
if grep -q GARBLED "\${@: -1}"; then echo "Job submitted, id to follow"; exit 0; fi
n=$(( $(cat "$FAKE_COUNTER" 2>/dev/null || echo 100) + 1 ))
echo "$n" >"$FAKE_COUNTER"
echo "site notice: be nice"
# a job array (#PBS -J on PBS Pro, -t on Torque) is answered as <n>[].<server>
if grep -q '^#PBS -[Jt] ' "\${@: -1}"; then echo "$n[].fakesrv"; else echo "$n.fakesrv"; fi
`
const FAKE_QDEL = `#!/bin/bash
printf 'qdel %s\\n' "$*" >>"$FAKE_LOG"
exit "\${FAKE_QDEL_EXIT:-0}"
`

function sandbox(name: string) {
  const dir = join(WORK, name)
  const bin = join(dir, 'bin')
  mkdirSync(bin, { recursive: true })
  writeFileSync(join(bin, 'qsub'), FAKE_QSUB)
  writeFileSync(join(bin, 'qdel'), FAKE_QDEL)
  chmodSync(join(bin, 'qsub'), 0o755)
  chmodSync(join(bin, 'qdel'), 0o755)
  const log = join(dir, 'log')
  return {
    dir,
    log: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
    run(script: string, env: Record<string, string> = {}) {
      const result = spawnSync('bash', ['-s'], {
        input: script,
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          FAKE_LOG: log,
          FAKE_COUNTER: join(dir, 'counter'),
          ...env,
        },
      })
      return { stdout: result.stdout, stderr: result.stderr, code: result.status }
    },
  }
}

function job(dir: string, key: string, dependsOn: JobDependency[] = []): JobSubmission {
  return {
    submissionKey: asSubmissionKey(key),
    runId: 'r1',
    taskId: key,
    attempt: 1,
    command: 'true',
    workDir: dir,
    jobDir: `${dir}/jobs/${key}`,
    env: {},
    resources: { cpus: 1, memoryMb: 100, timeLimitSeconds: 60, gpus: null, nodes: 1 },
    dependsOn,
    project: null,
  }
}

const upstream = (key: string, condition: JobDependency['condition'] = 'succeeded'): JobDependency => ({
  submissionKey: asSubmissionKey(key),
  jobId: null,
  condition,
})

// a script that would break a careless heredoc: quotes, expansions, a line that looks like a delimiter
const HOSTILE = `#!/bin/bash
#PBS -N hostile
echo "$HOME \`whoami\` $(date) \${x:-y}" 'single' \\\\ back
RPO_SCRIPT_x_0
EOF
	tab-indented line
`

function bashSyntax(script: string): { code: number | null; stderr: string } {
  const result = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' })
  return { code: result.status, stderr: result.stderr }
}

describe('buildQsubBatchScript', () => {
  it('is valid bash, keeps heredoc bodies unindented and wires in-batch upstreams through variables', () => {
    const dir = '/scratch/u/w'
    const batch: QsubBatchJob[] = [
      { job: job(dir, 'a'), script: '#!/bin/bash\necho a\n' },
      {
        job: job(dir, 'b', [
          upstream('a'),
          { submissionKey: asSubmissionKey('old'), jobId: asNativeJobId('77.srv'), condition: 'succeeded' },
        ]),
        script: '#!/bin/bash\necho b\n',
      },
      { job: job(dir, 'c', [upstream('a', 'finished'), upstream('b', 'failed')]), script: '#!/bin/bash\necho c' },
    ]
    const script = buildQsubBatchScript(batch, { delimiterSeed: 'seed' })
    expect(bashSyntax(script)).toEqual({ code: 0, stderr: '' })
    const lines = script.split('\n')
    expect(lines.slice(0, 2)).toEqual(['set -u', 'id_0= id_1= id_2='])
    expect(script).toContain('mkdir -p -- /scratch/u/w/jobs/a /scratch/u/w/jobs/b /scratch/u/w/jobs/c || {')
    // each body sits between its `cat` line and its delimiter, exactly as rendered
    const at = lines.indexOf("if ! cat >/scratch/u/w/jobs/b/job.pbs <<'RPO_SCRIPT_seed_1'")
    expect(lines.slice(at + 1, at + 4)).toEqual(['#!/bin/bash', 'echo b', 'RPO_SCRIPT_seed_1'])
    expect(script).toContain(
      '  rpo_qsub 0 /scratch/u/w/jobs/a -o /scratch/u/w/jobs/a/pbs.out -e /scratch/u/w/jobs/a/pbs.err /scratch/u/w/jobs/a/job.pbs',
    )
    expect(script).toContain(`-W "depend=afterok:\${id_0}:77.srv" /scratch/u/w/jobs/b/job.pbs`)
    expect(script).toContain(`-W "depend=afterany:\${id_0},afternotok:\${id_1}" /scratch/u/w/jobs/c/job.pbs`)
    // dependents are guarded by their in-batch upstreams, each once
    expect(lines).toContain(`if [ -n "\${id_0}" ]; then`)
    expect(lines).toContain(`if [ -n "\${id_0}" ] && [ -n "\${id_1}" ]; then`)
    expect(lines).toContain('  echo "rpo-fail 2 an upstream job of this batch was refused"')
  })

  it('refuses to build a batch whose in-batch upstream comes later or is missing', () => {
    const dir = '/w'
    expect(() =>
      buildQsubBatchScript([
        { job: job(dir, 'b', [upstream('a')]), script: 'x' },
        { job: job(dir, 'a'), script: 'x' },
      ]),
    ).toThrow(RpoError)
    expect(() => buildQsubBatchScript([{ job: job(dir, 'b', [upstream('nowhere')]), script: 'x' }])).toThrow(
      /not submitted before it in the batch/,
    )
    expect(() =>
      buildQsubBatchScript([{ job: job(dir, 'a'), script: 'x\nRPO_SCRIPT_s_0\n' }], { delimiterSeed: 's' }),
    ).toThrow(/delimiter collision/)
    expect(() => buildQsubBatchScript([{ job: { ...job(dir, 'a'), jobDir: 'relative/x' }, script: 'x' }])).toThrow(
      /absolute path/,
    )
  })

  it('writes each script byte for byte, submits with the fresh ids, and records each id in the job folder', () => {
    const box = sandbox('wiring')
    const batch: QsubBatchJob[] = [
      { job: job(box.dir, 'prep'), script: HOSTILE },
      { job: job(box.dir, 'train.0', [upstream('prep')]), script: '#!/bin/bash\necho t0\n' },
      { job: job(box.dir, 'train.1', [upstream('prep')]), script: '#!/bin/bash\necho t1\n' },
      { job: job(box.dir, 'report', [upstream('train.0'), upstream('train.1', 'finished')]), script: '#!/bin/bash\n' },
    ]
    const { stdout, code } = box.run(buildQsubBatchScript(batch))
    expect(code).toBe(0)
    expect(parseQsubBatchOutput(stdout, batch)).toEqual([
      { kind: 'submitted', submissionKey: 'prep', jobId: '101.fakesrv' },
      { kind: 'submitted', submissionKey: 'train.0', jobId: '102.fakesrv' },
      { kind: 'submitted', submissionKey: 'train.1', jobId: '103.fakesrv' },
      { kind: 'submitted', submissionKey: 'report', jobId: '104.fakesrv' },
    ])
    expect(readFileSync(join(box.dir, 'jobs/prep', PBS_JOB_FILES.script), 'utf8')).toBe(HOSTILE)
    expect(readFileSync(join(box.dir, 'jobs/report', PBS_JOB_FILES.jobId), 'utf8')).toBe('104.fakesrv\n')
    const jobs = (key: string) => join(box.dir, 'jobs', key)
    expect(box.log()).toEqual([
      `-o ${jobs('prep')}/pbs.out -e ${jobs('prep')}/pbs.err ${jobs('prep')}/job.pbs`,
      `-o ${jobs('train.0')}/pbs.out -e ${jobs('train.0')}/pbs.err -W depend=afterok:101.fakesrv ${jobs('train.0')}/job.pbs`,
      `-o ${jobs('train.1')}/pbs.out -e ${jobs('train.1')}/pbs.err -W depend=afterok:101.fakesrv ${jobs('train.1')}/job.pbs`,
      `-o ${jobs('report')}/pbs.out -e ${jobs('report')}/pbs.err -W depend=afterok:102.fakesrv,afterany:103.fakesrv ${jobs('report')}/job.pbs`,
    ])
  })

  it('keeps the dependents of a refused job back, submits the rest, and reports qsub in its own words', () => {
    const box = sandbox('refused')
    const batch: QsubBatchJob[] = [
      { job: job(box.dir, 'bad'), script: '#!/bin/bash\n# REFUSE\n' },
      { job: job(box.dir, 'child', [upstream('bad')]), script: '#!/bin/bash\n' },
      { job: job(box.dir, 'grandchild', [upstream('child')]), script: '#!/bin/bash\n' },
      { job: job(box.dir, 'free'), script: '#!/bin/bash\n' },
      { job: job(box.dir, 'garbled'), script: '#!/bin/bash\n# GARBLED\n' },
      { job: job(box.dir, 'after-garbled', [upstream('garbled')]), script: '#!/bin/bash\n' },
    ]
    // a stale exit status of an earlier submission under the same key is removed before qsub
    mkdirSync(join(box.dir, 'jobs/free'), { recursive: true })
    writeFileSync(join(box.dir, 'jobs/free', PBS_JOB_FILES.exitStatus), '0\n')
    const { stdout, code } = box.run(buildQsubBatchScript(batch))
    expect(code).toBe(0)
    expect(parseQsubBatchOutput(stdout, batch)).toEqual([
      { kind: 'rejected', submissionKey: 'bad', message: 'Unknown queue (see the site docs)' },
      { kind: 'rejected', submissionKey: 'child', message: 'an upstream job of this batch was refused' },
      { kind: 'rejected', submissionKey: 'grandchild', message: 'an upstream job of this batch was refused' },
      { kind: 'submitted', submissionKey: 'free', jobId: '101.fakesrv' },
      {
        kind: 'rejected',
        submissionKey: 'garbled',
        message: 'unexpected qsub answer: Job submitted, id to follow',
      },
      { kind: 'rejected', submissionKey: 'after-garbled', message: 'an upstream job of this batch was refused' },
    ])
    expect(box.log()).toHaveLength(3)
    expect(existsSync(join(box.dir, 'jobs/free', PBS_JOB_FILES.exitStatus))).toBe(false)
    expect(existsSync(join(box.dir, 'jobs/bad', PBS_JOB_FILES.jobId))).toBe(false)
  })

  it('says so when the job folders cannot be created', () => {
    const box = sandbox('mkdir')
    writeFileSync(join(box.dir, 'jobs'), 'a file where the folder should be')
    const batch = [{ job: job(box.dir, 'a'), script: '#!/bin/bash\n' }]
    const { stdout, code } = box.run(buildQsubBatchScript(batch))
    expect(code).toBe(3)
    expect(stdout).toContain('rpo-mkdir-failed')
    expect(box.log()).toEqual([])
  })

  it('passes a folder path with spaces, quotes, $(…) and backquotes intact and executes none of it', () => {
    const box = sandbox('hostile path')
    // a path without spaces, so that an expansion would really create it
    const pwned = join(WORK, 'pwned')
    const evil = `${box.dir}/it's a "dir" $(touch ${pwned}) \`touch ${pwned}\` \${HOME}`
    const submitted = { ...job(evil, 'a'), jobDir: `${evil}/jobs/a` }
    const refused = { ...job(evil, 'b'), jobDir: `${evil}/jobs/b` }
    // b's job script cannot be written (a folder stands where the file goes): its refusal names the path
    mkdirSync(`${evil}/jobs/b/${PBS_JOB_FILES.script}`, { recursive: true })
    const batch = [
      { job: submitted, script: '#!/bin/bash\necho a\n' },
      { job: refused, script: '#!/bin/bash\necho b\n' },
    ]
    const { stdout, code } = box.run(buildQsubBatchScript(batch))
    expect(code).toBe(0)
    expect(existsSync(pwned)).toBe(false)
    expect(readFileSync(`${evil}/jobs/a/${PBS_JOB_FILES.script}`, 'utf8')).toBe('#!/bin/bash\necho a\n')
    expect(readFileSync(`${evil}/jobs/a/${PBS_JOB_FILES.jobId}`, 'utf8')).toBe('101.fakesrv\n')
    expect(box.log()).toEqual([`-o ${evil}/jobs/a/pbs.out -e ${evil}/jobs/a/pbs.err ${evil}/jobs/a/job.pbs`])
    expect(parseQsubBatchOutput(stdout, batch)).toEqual([
      { kind: 'submitted', submissionKey: 'a', jobId: '101.fakesrv' },
      { kind: 'rejected', submissionKey: 'b', message: `cannot write the job script ${evil}/jobs/b/job.pbs` },
    ])
  })

  it('refuses a folder path with a newline before anything runs', () => {
    const lines = { ...job('/scratch/u/w', 'a'), jobDir: '/scratch/u/w/jobs/a\n$(touch /tmp/x)' }
    expect(() => buildQsubBatchScript([{ job: lines, script: '#!/bin/bash\n' }])).toThrow(RpoError)
  })
})

describe('job arrays in a submission batch', () => {
  function sweep(dir: string, indices: readonly number[], flavor: PbsFlavorName, refuse = false): QsubBatchJob[] {
    const members = indices.map((index) => {
      const key = `rpo.r1.train.${index}.1`
      return {
        ...job(dir, key, [upstream('rpo.r1.prep.1')]),
        array: { key: asSubmissionKey('rpo.r1.train.array.1'), index, throttle: 2 },
      }
    })
    const report = job(dir, 'rpo.r1.report.1', [
      ...members.map((m) => upstream(m.submissionKey)),
      // an instance of an earlier array, by its subjob id: the dependency names the whole array
      { submissionKey: asSubmissionKey('rpo.r1.tok.3.1'), jobId: asNativeJobId('77[3].srv'), condition: 'finished' },
    ])
    const flag = flavor === 'torque' ? '-t' : '-J'
    return groupPbsSweeps([job(dir, 'rpo.r1.prep.1'), ...members, report], flavor).map((unit) => ({
      ...unit,
      script: unit.array
        ? `#!/bin/bash\n#PBS ${flag} ${unit.array.indices.join(',')}\n${refuse ? '# REFUSE\n' : ''}`
        : '#!/bin/bash\n',
    }))
  }

  it('PBS Pro: submits the array once, gives each instance its subjob id and folder, and waits for the array', () => {
    const box = sandbox('array-pro')
    const batch = sweep(box.dir, [0, 1, 2, 3], 'pbspro')
    expect(batch.map((b) => b.array?.indices ?? b.job.submissionKey)).toEqual([
      'rpo.r1.prep.1',
      [0, 1, 2, 3],
      'rpo.r1.report.1',
    ])
    const jobs = (key: string) => join(box.dir, 'jobs', key)
    // a stale file of an earlier submission under an instance key is removed before qsub
    mkdirSync(jobs('rpo.r1.train.2.1'), { recursive: true })
    writeFileSync(join(jobs('rpo.r1.train.2.1'), PBS_JOB_FILES.exitStatus), '0\n')
    const script = buildQsubBatchScript(batch, { flavor: 'pbspro' })
    expect(bashSyntax(script)).toEqual({ code: 0, stderr: '' })
    const { stdout, code } = box.run(script)
    expect(code).toBe(0)
    expect(parseQsubBatchOutput(stdout, batch)).toEqual([
      { kind: 'submitted', submissionKey: 'rpo.r1.prep.1', jobId: '101.fakesrv' },
      { kind: 'submitted', submissionKey: 'rpo.r1.train.0.1', jobId: '102[0].fakesrv' },
      { kind: 'submitted', submissionKey: 'rpo.r1.train.1.1', jobId: '102[1].fakesrv' },
      { kind: 'submitted', submissionKey: 'rpo.r1.train.2.1', jobId: '102[2].fakesrv' },
      { kind: 'submitted', submissionKey: 'rpo.r1.train.3.1', jobId: '102[3].fakesrv' },
      { kind: 'submitted', submissionKey: 'rpo.r1.report.1', jobId: '103.fakesrv' },
    ])
    const array = jobs('rpo.r1.train.array.1')
    expect(box.log()).toEqual([
      `-o ${jobs('rpo.r1.prep.1')}/pbs.out -e ${jobs('rpo.r1.prep.1')}/pbs.err ${jobs('rpo.r1.prep.1')}/job.pbs`,
      // each subjob writes into its own instance folder: PBS Pro puts the index in for ^array_index^
      `-o ${box.dir}/jobs/rpo.r1.train.^array_index^.1/pbs.out -e ${box.dir}/jobs/rpo.r1.train.^array_index^.1/pbs.err -W depend=afterok:101.fakesrv ${array}/job.pbs`,
      `-o ${jobs('rpo.r1.report.1')}/pbs.out -e ${jobs('rpo.r1.report.1')}/pbs.err -W depend=afterok:102[].fakesrv,afterany:77[].srv ${jobs('rpo.r1.report.1')}/job.pbs`,
    ])
    // the array's script and id in the array folder; each instance folder has its own subjob id
    expect(readFileSync(join(array, PBS_JOB_FILES.script), 'utf8')).toBe('#!/bin/bash\n#PBS -J 0,1,2,3\n')
    expect(readFileSync(join(array, PBS_JOB_FILES.jobId), 'utf8')).toBe('102[].fakesrv\n')
    for (const index of [0, 1, 2, 3]) {
      expect(readFileSync(join(jobs(`rpo.r1.train.${index}.1`), PBS_JOB_FILES.jobId), 'utf8')).toBe(
        `102[${index}].fakesrv\n`,
      )
    }
    expect(existsSync(join(jobs('rpo.r1.train.2.1'), PBS_JOB_FILES.exitStatus))).toBe(false)
  })

  it('Torque: the dependents wait with afterokarray / afteranyarray', () => {
    const box = sandbox('array-torque')
    const batch = sweep(box.dir, [0, 2, 5], 'torque')
    const { code } = box.run(buildQsubBatchScript(batch, { flavor: 'torque' }))
    expect(code).toBe(0)
    const jobs = (key: string) => join(box.dir, 'jobs', key)
    expect(box.log()[1]).toBe(
      `-o ${jobs('rpo.r1.train.array.1')}/pbs.out -e ${jobs('rpo.r1.train.array.1')}/pbs.err -W depend=afterok:101.fakesrv ${jobs('rpo.r1.train.array.1')}/job.pbs`,
    )
    expect(box.log()[2]).toContain('-W depend=afterokarray:102[].fakesrv,afteranyarray:77[].srv ')
    expect(readFileSync(join(jobs('rpo.r1.train.5.1'), PBS_JOB_FILES.jobId), 'utf8')).toBe('102[5].fakesrv\n')
  })

  it('a refused array refuses every instance and keeps its dependents back; no instance gets an id', () => {
    const box = sandbox('array-refused')
    const batch = sweep(box.dir, [0, 1], 'pbspro', true)
    const { stdout } = box.run(buildQsubBatchScript(batch))
    expect(parseQsubBatchOutput(stdout, batch)).toEqual([
      { kind: 'submitted', submissionKey: 'rpo.r1.prep.1', jobId: '101.fakesrv' },
      { kind: 'rejected', submissionKey: 'rpo.r1.train.0.1', message: 'Unknown queue (see the site docs)' },
      { kind: 'rejected', submissionKey: 'rpo.r1.train.1.1', message: 'Unknown queue (see the site docs)' },
      { kind: 'rejected', submissionKey: 'rpo.r1.report.1', message: 'an upstream job of this batch was refused' },
    ])
    expect(existsSync(join(box.dir, 'jobs/rpo.r1.train.0.1', PBS_JOB_FILES.jobId))).toBe(false)
  })

  it('an array answered with a plain id is refused in the script, never turned into guessed subjob ids', () => {
    const box = sandbox('array-plain-id')
    // the script has no array option, so the fake qsub answers 101.fakesrv
    const batch = sweep(box.dir, [0, 1], 'pbspro').map((b) => (b.array ? { ...b, script: '#!/bin/bash\n' } : b))
    const { stdout } = box.run(buildQsubBatchScript(batch))
    expect(stdout).toContain('rpo-fail 1 unexpected qsub answer: site notice: be nice 102.fakesrv')
    expect(parseQsubBatchOutput(stdout, batch).filter((r) => r.submissionKey.startsWith('rpo.r1.train'))).toEqual([
      {
        kind: 'rejected',
        submissionKey: 'rpo.r1.train.0.1',
        message: 'unexpected qsub answer: site notice: be nice 102.fakesrv',
      },
      {
        kind: 'rejected',
        submissionKey: 'rpo.r1.train.1.1',
        message: 'unexpected qsub answer: site notice: be nice 102.fakesrv',
      },
    ])
    // and should such a line reach the parser anyway, it is a refusal too
    expect(parseQsubBatchOutput('rpo-job 1 55.srv\n', batch)).toEqual([
      {
        kind: 'rejected',
        submissionKey: 'rpo.r1.train.0.1',
        message: 'qsub did not answer with a job array id: 55.srv',
      },
      {
        kind: 'rejected',
        submissionKey: 'rpo.r1.train.1.1',
        message: 'qsub did not answer with a job array id: 55.srv',
      },
    ])
  })
})

describe('parseQsubBatchOutput', () => {
  const batch = [{ job: job('/w', 'a'), script: '' }]

  it('ignores other lines, keeps jobs without an answer out, and refuses an unknown index', () => {
    expect(parseQsubBatchOutput('noise\n', batch)).toEqual([])
    expect(parseQsubBatchOutput('rpo-job 0 12\n', batch)).toEqual([
      { kind: 'submitted', submissionKey: 'a', jobId: '12' },
    ])
    expect(() => parseQsubBatchOutput('rpo-job 3 12\n', batch)).toThrow(ParseError)
    expect(() => parseQsubBatchOutput('rpo-job 0 not-an-id\n', batch)).toThrow(RpoError)
  })

  it("keeps sbatch's words from the Slurm wrappers' long refusal", () => {
    const wrapped =
      "There was an error running the Slurm sbatch command. The command was: '/usr/bin/sbatch -p nope job.pbs 2>&1' and the output was: 'sbatch: error: Batch job submission failed: Invalid partition name specified '"
    expect(cleanQsubMessage(wrapped)).toBe('Batch job submission failed: Invalid partition name specified')
    expect(cleanQsubMessage('qsub: Unknown queue')).toBe('Unknown queue')
    expect(cleanQsubMessage('  ')).toBe('qsub refused the job without saying why')
  })
})

describe('withExitStatusFile', () => {
  it('runs the command as written, records its exit status and exits with it', () => {
    const dir = join(WORK, 'exit-status')
    mkdirSync(dir, { recursive: true })
    const command = `echo "it's $((1 + 1))" > out.txt; exit 4`
    const wrapped = withExitStatusFile(command, `${dir}/`)
    expect(bashSyntax(wrapped).code).toBe(0)
    const result = spawnSync('bash', ['-c', wrapped], { cwd: dir, encoding: 'utf8' })
    expect(result.status).toBe(4)
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe("it's 2\n")
    expect(readFileSync(join(dir, PBS_JOB_FILES.exitStatus), 'utf8')).toBe('4\n')
    expect(existsSync(join(dir, `${PBS_JOB_FILES.exitStatus}.tmp`))).toBe(false)
    const ok = spawnSync('bash', ['-c', withExitStatusFile('true', dir)], { cwd: dir })
    expect(ok.status).toBe(0)
    expect(readFileSync(join(dir, PBS_JOB_FILES.exitStatus), 'utf8')).toBe('0\n')
  })
})

describe('job files and deletion', () => {
  it('reads many job folders in one script; missing files are absent, a marker reads as empty', () => {
    const box = sandbox('files')
    const a = join(box.dir, 'a')
    const b = join(box.dir, 'b c')
    mkdirSync(a)
    mkdirSync(b)
    writeFileSync(join(a, PBS_JOB_FILES.exitStatus), '3\n')
    writeFileSync(join(b, PBS_JOB_FILES.cancelMarker), '')
    writeFileSync(join(b, PBS_JOB_FILES.jobId), '55.srv\n')
    const script = buildReadJobFilesScript([
      { dir: a, files: ['exitStatus', 'cancelMarker'] },
      { dir: b, files: ['exitStatus', 'cancelMarker', 'jobId'] },
      { dir: join(box.dir, 'missing'), files: ['jobId'] },
    ])
    const { stdout, code } = box.run(script)
    expect(code).toBe(0)
    expect(parseReadJobFilesOutput(stdout)).toEqual(
      new Map([
        [0, { exitStatus: '3' }],
        [1, { cancelMarker: '', jobId: '55.srv' }],
      ]),
    )
  })

  it('marks jobs as deleted by rpo before qdel, and exits with qdel’s status', () => {
    const box = sandbox('qdel')
    const dir = join(box.dir, 'j')
    mkdirSync(dir)
    const script = buildMarkAndDeleteScript([dir, join(box.dir, 'gone')], ['qdel', '12', '13'])
    expect(box.run(script).code).toBe(0)
    expect(existsSync(join(dir, PBS_JOB_FILES.cancelMarker))).toBe(true)
    expect(box.log()).toEqual(['qdel 12 13'])
    expect(box.run(script, { FAKE_QDEL_EXIT: '1' }).code).toBe(1)
  })
})
