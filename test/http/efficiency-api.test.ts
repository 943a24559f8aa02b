/**
 * GET /v1/efficiency against a real store of real runs: the answer is what
 * `rpo history --efficiency --json --no-accounting` prints on the same store (whole, and within a
 * project-restricted token's project), including accounting figures stored on an attempt as a tick
 * would store them; another project is refused (403) and bad parameters are 400.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EfficiencySchema } from '../../src/http/response-schemas.js'
import { runCli } from '../support/cli-harness.js'
import { getJson, removeWorkspace, type ServedApi, serve, workspaceWithRuns } from './http-harness.js'

let dir = ''
let runs: Record<string, string> = {}
let api: ServedApi

beforeAll(async () => {
  ;({ dir, runs } = await workspaceWithRuns())
  api = await serve(dir)
  // accounting's figures for vision's task a, stored as a tick stores them (RunStore.recordEndedUsage)
  const attempts = await api.app.store.history.attempts({ runId: runs.vision as string, stage: 'a' })
  expect(attempts).toHaveLength(1)
  await api.app.store.recordEndedUsage(
    new Map([
      [
        attempts[0]?.submissionKey as string,
        {
          elapsedSeconds: 3600,
          cpuSeconds: 1800,
          maxRssMb: 900,
          allocTres: { cpu: 2, mem: 4096, 'gres/gpu': 2 },
          gpuUtilPercent: 50,
        },
      ],
    ]),
  )
})

afterAll(async () => {
  await api?.close()
  if (dir) removeWorkspace(dir)
})

async function cliEfficiency(...args: string[]) {
  const printed = await runCli(dir, ['history', '--efficiency', '--json', '--no-accounting', ...args])
  expect(printed.code, printed.stderr).toBe(0)
  return JSON.parse(printed.stdout)
}

describe('GET /v1/efficiency', () => {
  it('answers what rpo history --efficiency --json --no-accounting prints on the same store', async () => {
    const answer = await getJson(api, '/v1/efficiency')
    expect(answer.status).toBe(200)
    const body = EfficiencySchema.parse(answer.body)
    expect(answer.body).toEqual(await cliEfficiency())

    // the stored accounting figures, hand-computed: 1800 of 2 × 3600 CPU-seconds; 2 GPUs for an hour at 50 %
    const a = body.stages.find((s) => s.pipeline === 'train' && s.stage === 'a')?.efficiency
    expect(a).toMatchObject({
      attempts: 1,
      cpuMeasured: 1,
      allocatedCpuHours: 2,
      usedCpuHours: 0.5,
      cpuEfficiency: 0.25,
      idleCpuHours: 1.5,
      maxRssMb: 900,
      askedMemoryMb: 4096,
      gpuHours: 2,
      usedGpuHours: 0.5,
      idleGpuHours: 1.5,
      gpuHoursUnknown: 0,
    })
    expect(body.waste.map((w) => w.taskId)).toContain('a')
    expect(body.accounting).toEqual({ asked: 0, filled: 0, problems: [] })
    // three stages over the two runs: train's a and b, parse's only (3 attempts)
    expect(body.stages.map((s) => `${s.pipeline}/${s.stage}`)).toEqual(['parse/only', 'train/a', 'train/b'])
    expect(body.total.attempts).toBe(3)
  })

  it('keeps a project-restricted token to its project, with the same filters as /v1/history', async () => {
    const vision = await getJson(api, '/v1/efficiency', api.tokens.visionRead as string)
    expect(vision.status).toBe(200)
    expect(vision.body).toEqual(await cliEfficiency('--project', 'vision'))
    expect(vision.body.filter).toEqual({ project: 'vision', limit: 10_000 })
    expect(vision.body.stages.map((s: { stage: string }) => s.stage)).toEqual(['a', 'b'])

    const other = await getJson(api, '/v1/efficiency?project=nlp', api.tokens.visionRead as string)
    expect(other.status).toBe(403)
    expect(other.body.error.code).toBe('forbidden')

    const filtered = await getJson(api, '/v1/efficiency?pipeline=train&stage=b&since=2000-01-01&limit=5')
    expect(filtered.status).toBe(200)
    expect(filtered.body.stages.map((s: { stage: string }) => s.stage)).toEqual(['b'])
    expect(filtered.body.total).toEqual((await cliEfficiency('--pipeline', 'train', '--task', 'b')).total)
    const future = await getJson(api, '/v1/efficiency?since=2999-01-01')
    expect(future.body.total.attempts).toBe(0)
    expect(future.body.stages).toEqual([])

    const bad = await getJson(api, '/v1/efficiency?limit=0')
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toMatch(/"limit"/)
    expect((await getJson(api, '/v1/efficiency?state=failed')).status).toBe(400)
  })

  it('is one of the registered read routes the authentication tests enumerate', () => {
    expect(api.server.registeredRoutes).toContainEqual(
      expect.objectContaining({ method: 'GET', url: '/v1/efficiency', scope: 'read' }),
    )
  })
})
