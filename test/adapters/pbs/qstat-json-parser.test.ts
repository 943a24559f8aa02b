import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { toPbsJobObservations } from '../../../adapters/pbs/pbs-job-record.js'
import { parsePbsJson } from '../../../adapters/pbs/pbs-json.js'
import { parseQstatJson } from '../../../adapters/pbs/qstat-json-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { JOB_STATES } from '../../../src/core/job/job-state.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const METACENTRUM = readFileSync(
  sharedFixture('pbspro', 'qstat_f_json', 'swrap-metacentrum_qstat_xf_json.json'),
  'utf8',
)

// a finished job in the shape of `qstat -xf -F json` (OpenPBS 20+: times as epoch strings on some sites)
const FINISHED = `{
    "timestamp":1700003600,
    "pbs_version":"22.05.11",
    "pbs_server":"pbs-srv",
    "Jobs":{
        "4711.pbs-srv":{
            "Job_Name":"rpo-1a2b3c4d",
            "job_state":"F",
            "queue":"gpu",
            "Account_Name":"vision",
            "resources_used":{ "cput":"01:59:00", "mem":"2097152kb", "ncpus":8, "ngpus":2, "walltime":"01:00:04" },
            "Resource_List":{ "mem":"32gb", "ncpus":8, "ngpus":2, "nodect":1, "select":"1:ncpus=8:mem=32gb:ngpus=2", "walltime":"01:00:00" },
            "stime":"1700000000",
            "obittime":"1700003604",
            "mtime":"1700003605",
            "exec_host":"gpu07/0*8",
            "substate":93,
            "Exit_status":-29,
            "Variable_List":{ "PBS_O_HOME":"/home/alice", "RPO_SUBMISSION_KEY":"r20240501-ab12.train.2", "SEED":42 }
        }
    }
}`

describe('parseQstatJson on the real capture', () => {
  it.each(readdirSync(sharedFixture('pbspro', 'qstat_f_json')))('%s parses into well-formed observations', (file) => {
    const records = parseQstatJson(readFileSync(sharedFixture('pbspro', 'qstat_f_json', file), 'utf8'))
    expect(records.length).toBeGreaterThan(0)
    for (const observation of toPbsJobObservations(records)) expect(JOB_STATES).toContain(observation.state)
  })

  it('reads the MetaCentrum running job field by field', () => {
    const [record] = parseQstatJson(METACENTRUM, { timeZone: 'Europe/Prague' })
    expect(record).toMatchObject({
      jobId: '12860476.meta-pbs.metacentrum.cz',
      name: 'swrap_01',
      owner: 'jan_brezina@META',
      nativeState: 'R',
      queue: 'charon_2h',
      substate: 41,
      exitStatus: null,
      account: null,
      family: 'pbspro',
      walltimeLimitSeconds: 60,
      execHosts: ['charon24', 'charon21'],
      submissionKey: null,
    })
    // nested objects are flattened as qstat -f prints them; JSON numbers become their decimal text
    expect(record?.resourceList.select).toBe('2:ncpus=2:mem=4gb:mpiprocs=2:ompthreads=1')
    expect(record?.variables.PBS_RESC_MEM).toBe('4294967296')
    expect(record?.attributes.Priority).toBe('0')
    expect(record?.startedAt?.toISOString()).toBe('2022-10-04T19:23:33.000Z')
    expect(record?.createdAt?.toISOString()).toBe('2022-10-04T19:23:20.000Z')
    const [observation] = toPbsJobObservations(record === undefined ? [] : [record])
    expect(observation).toMatchObject({ state: 'running', exitCode: null, endedAt: null, name: 'swrap_01' })
    expect(observation?.usage).toEqual({ allocTres: { cpu: 4, mem: 8_192, node: 2 } })
  })
})

describe('parseQstatJson: finished jobs', () => {
  it('reads exit status, epoch times, usage, GPUs and the submission key', () => {
    const [observation] = toPbsJobObservations(parseQstatJson(FINISHED))
    expect(observation).toEqual({
      jobId: '4711.pbs-srv',
      state: 'timeout',
      nativeState: 'F',
      exitCode: -29,
      signal: null,
      reason: 'JOB_EXEC_KILL_WALLTIME (-29): exceeded walltime',
      startedAt: new Date(1_700_000_000_000),
      endedAt: new Date(1_700_003_604_000),
      nodes: ['gpu07'],
      usage: {
        elapsedSeconds: 3_604,
        cpuSeconds: 7_140,
        maxRssMb: 2_048,
        allocTres: { cpu: 8, mem: 32_768, 'gres/gpu': 2, node: 1 },
      },
      name: 'r20240501-ab12.train.2',
    })
  })

  it('accepts a document without Jobs, and empty output, as no jobs', () => {
    expect(parseQstatJson('{"timestamp":1,"pbs_version":"19.1.3","pbs_server":"s"}')).toEqual([])
    expect(parseQstatJson('')).toEqual([])
  })
})

describe('parseQstatJson: JSON that PBS broke', () => {
  it('reads invalid escapes copied from Variable_List (openpbs/openpbs#2049) as the character', () => {
    const broken = METACENTRUM.replace('"PBS_O_LANG":"en_US.UTF-8"', `"PBS_O_LANG":"en\\,US\\'x"`)
    expect(() => JSON.parse(broken)).toThrow()
    const [record] = parseQstatJson(broken)
    expect(record?.variables.PBS_O_LANG).toBe("en,US'x")
    expect(record?.name).toBe('swrap_01')
  })

  it('reads unescaped quotes inside a value (openpbs/openpbs#830)', () => {
    const broken = METACENTRUM.replace(
      /"comment":"[^\n]*",/,
      '"comment":"HEALTH-CHECK: reboot "zaskly sdileny scratch" (Sep 04 14:13 SCHEDULED)",',
    )
    expect(() => JSON.parse(broken)).toThrow()
    const [record] = parseQstatJson(broken)
    expect(record?.comment).toBe('HEALTH-CHECK: reboot "zaskly sdileny scratch" (Sep 04 14:13 SCHEDULED)')
    expect(record?.attributes.etime).toBe('Tue Oct  4 21:23:20 2022')
  })

  it('keeps digit strings that are not JSON numbers (openpbs/openpbs#1255), raw newlines and NaN', () => {
    const broken = METACENTRUM.replace(
      '"PBS_NCPUS":2,',
      '"PBS_NCPUS":2,"foo":005,"BASH_FUNC_x%%":"() {  echo\n}","ratio":NaN,',
    )
    const [record] = parseQstatJson(broken)
    expect(record?.variables.foo).toBe('005')
    expect(record?.variables['BASH_FUNC_x%%']).toBe('() {  echo\n}')
    expect(Object.hasOwn(record?.variables ?? {}, 'ratio')).toBe(false)
  })

  it('names the job and attribute where structurally broken JSON stops', () => {
    const cut = '{"Jobs":{"1.s":{"job_state":"R","comment": }}}'
    expect(() => parseQstatJson(cut)).toThrow(ParseError)
    expect(() => parseQstatJson(cut)).toThrow(/Jobs › 1\.s › comment/)
    const truncated = METACENTRUM.slice(0, METACENTRUM.indexOf('"Variable_List"') + 40)
    expect(() => parseQstatJson(truncated)).toThrow(/unterminated string|expected/)
    expect(() => parseQstatJson(truncated)).toThrow(/12860476\.meta-pbs\.metacentrum\.cz › Variable_List/)
  })

  it('refuses documents of the wrong shape', () => {
    expect(() => parseQstatJson('[1,2]')).toThrow(/not a JSON object/)
    expect(() => parseQstatJson('{"Jobs":[]}')).toThrow(/"Jobs" is not an object/)
    expect(() => parseQstatJson('{"Jobs":{"1.s":"R"}}')).toThrow(/job 1\.s is not an object/)
    expect(() => parseQstatJson('{"Jobs":{"1.s":{"Job_Name":"x"}}}')).toThrow(/has no job_state/)
    expect(() => parseQstatJson('{"Jobs":{"not-an-id":{"job_state":"R"}}}')).toThrow(/not a PBS job id/)
    expect(() => parseQstatJson('{"Jobs":{"1.s":{"job_state":"F","Exit_status":"x"}}}')).toThrow(
      /job 1\.s, Exit_status/,
    )
  })

  it('keeps a key named __proto__ as a plain key', () => {
    const value = parsePbsJson('{"__proto__":{"polluted":1}, "a": 1,}', 'test')
    expect(Object.hasOwn(value as object, '__proto__')).toBe(true)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('refuses nesting deeper than any PBS document', () => {
    expect(() => parsePbsJson(`${'['.repeat(100)}1${']'.repeat(99)}`, 'test')).toThrow(/nested too deeply/)
  })
})
