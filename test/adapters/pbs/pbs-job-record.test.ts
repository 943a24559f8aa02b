import { describe, expect, it } from 'vitest'
import { buildPbsJobRecord, parseTorqueNodes, toPbsJobObservations } from '../../../adapters/pbs/pbs-job-record.js'
import { ParseError } from '../../../src/core/errors.js'

const record = (attributes: Record<string, string>, family: 'pbspro' | 'torque' | null = null) =>
  buildPbsJobRecord('test', '7.srv', { job_state: 'R', ...attributes }, family)

describe('buildPbsJobRecord', () => {
  it('infers the exit-status family from the attribute spelling when the format does not say', () => {
    expect(record({ Exit_status: '0' }).family).toBe('pbspro')
    expect(record({ exit_status: '0' }).family).toBe('torque')
    expect(record({ 'Resource_List.nodes': '1:ppn=2' }).family).toBe('torque')
    expect(record({}).family).toBeNull()
    expect(record({ exit_status: '0' }, 'pbspro').family).toBe('pbspro')
  })

  it('reads Variable_List with escaped commas and values that contain commas', () => {
    const { variables, submissionKey } = record({
      Variable_List: 'A=1,LIST=a\\,b\\,c,module=() { x,},RPO_SUBMISSION_KEY=r1.t.1,EMPTY=',
    })
    expect(variables).toEqual({ A: '1', LIST: 'a,b,c', module: '() { x,}', RPO_SUBMISSION_KEY: 'r1.t.1', EMPTY: '' })
    expect(submissionKey).toBe('r1.t.1')
    expect(() => record({ Variable_List: 'no equals here,A=1' })).toThrow(/Variable_List/)
  })

  it('uses the project as account unless it is the PBS default', () => {
    expect(record({ project: 'a01' }).account).toBe('a01')
    expect(record({ project: '_pbs_project_default' }).account).toBeNull()
    expect(record({ project: 'a01', Account_Name: 'acct' }).account).toBe('acct')
  })

  it('refuses malformed exec_host lists and ids', () => {
    expect(() => record({ exec_host: 'n1/0+n 2/0' })).toThrow(/exec_host/)
    expect(() => buildPbsJobRecord('test', '7.srv;id', { job_state: 'R' }, null)).toThrow(ParseError)
  })
})

describe('toPbsJobObservations', () => {
  it('ends a finished job at obittime/comp_time, else at mtime, and never ends a live one', () => {
    const finishedWithoutObit = record({ job_state: 'F', Exit_status: '0', mtime: '1700000100' })
    expect(toPbsJobObservations([finishedWithoutObit])[0]?.endedAt).toEqual(new Date(1_700_000_100_000))
    const exiting = record({ job_state: 'E', mtime: '1700000100' })
    expect(toPbsJobObservations([exiting])[0]).toMatchObject({ state: 'completing', endedAt: null })
  })

  it('reads a signal death as timeout when the walltime was used up', () => {
    const killed = record({
      job_state: 'F',
      Exit_status: '271',
      'resources_used.walltime': '01:00:07',
      'Resource_List.walltime': '01:00:00',
    })
    expect(toPbsJobObservations([killed])[0]).toMatchObject({ state: 'timeout', signal: 'SIGTERM', exitCode: 271 })
  })

  it('uses the default family for text without hints, and the comment as the reason otherwise', () => {
    const bare = record({ job_state: 'C', comment: 'Not Running: x' })
    // `C` plus no exit status: nothing is known about the outcome
    expect(toPbsJobObservations([bare])[0]).toMatchObject({
      state: 'unknown',
      reason: 'finished without an exit status',
    })
    const queued = record({ job_state: 'Q', comment: 'Not Running: Insufficient amount of resource: ngpus' })
    expect(toPbsJobObservations([queued])[0]?.reason).toBe('Not Running: Insufficient amount of resource: ngpus')
    const negative = buildPbsJobRecord('test', '8.srv', { job_state: 'C', Exit_status: '-11' }, null)
    expect(toPbsJobObservations([{ ...negative, family: null }], { family: 'torque' })[0]?.state).toBe('timeout')
    expect(toPbsJobObservations([{ ...negative, family: null }])[0]?.state).toBe('node_fail')
  })

  it('names the job and attribute of a malformed usage value', () => {
    expect(() => toPbsJobObservations([record({ 'resources_used.mem': 'lots' })])).toThrow(
      /job 7\.srv, resources_used\.mem/,
    )
    expect(() => toPbsJobObservations([record({ 'Resource_List.ncpus': 'x' })])).toThrow(ParseError)
  })
})

describe('parseTorqueNodes', () => {
  it('sums node counts, processors and GPUs over the + parts', () => {
    expect(parseTorqueNodes('4:ppn=24')).toEqual({ nodes: 4, cpus: 96, gpus: 0 })
    expect(parseTorqueNodes('2:ppn=4:gpus=2:a100')).toEqual({ nodes: 2, cpus: 8, gpus: 4 })
    expect(parseTorqueNodes('node1:ppn=2+node2')).toEqual({ nodes: 2, cpus: 3, gpus: 0 })
    expect(parseTorqueNodes('20:ivybridge')).toEqual({ nodes: 20, cpus: 20, gpus: 0 })
  })

  it('refuses what is not a nodes spec', () => {
    for (const spec of ['', '1:ppn=x', '+', '1:pp n=2']) expect(() => parseTorqueNodes(spec), spec).toThrow(ParseError)
  })
})
