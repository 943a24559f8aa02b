/**
 * Config values that would make rpo spin, hang or break budget enforcement on every tick (issue #10):
 * poll intervals of zero, a grace period of a month, budget periods that end before they start,
 * deadlines that are not dates. Each is refused at load time, located.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load-config.js'
import type { RpoError } from '../../src/core/errors.js'
import { rejectionOf } from '../support/rejection.js'

let root: string
let counter = 0

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'rpo-config-limits-'))
})

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

function load(text: string) {
  const dir = path.join(root, `case-${++counter}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'rpo.config.yaml'), text)
  return loadConfig({ cwd: dir, env: {} })
}

function errorOf(text: string): RpoError {
  return rejectionOf(() => load(text), 'the config')
}

const slurm = (fields: string) =>
  `defaultCluster: hpc\nclusters:\n  hpc:\n    kind: slurm\n    workDir: /scratch/rpo\n${fields}`
const local = (fields: string) => `defaultCluster: box\nclusters:\n  box:\n    kind: local\n${fields}`
const project = (fields: string) => `projects:\n  vision:\n${fields}`

describe('poll intervals', () => {
  it('pollInterval 0 on a batch cluster is refused with the minimum', () => {
    const error = errorOf(slurm('    pollInterval: 0\n'))
    expect(error.code).toBe('config-invalid')
    expect(error.message).toMatch(/rpo\.config\.yaml:6:19: clusters\.hpc\.pollInterval: .*at least 250ms/)
  })

  it('maxPollInterval 0 is refused', () => {
    expect(errorOf(slurm('    maxPollInterval: 0\n')).message).toContain('clusters.hpc.maxPollInterval')
  })

  it('maxPollInterval below pollInterval is refused, naming both', () => {
    const error = errorOf(slurm('    pollInterval: 30s\n    maxPollInterval: 10s\n'))
    expect(error.message).toMatch(/clusters\.hpc\.maxPollInterval: .*not shorter than pollInterval \(30s\)/)
  })

  it('an absurd poll interval is refused', () => {
    expect(errorOf(slurm('    pollInterval: 99999d\n')).message).toMatch(/clusters\.hpc\.pollInterval: .*at most 1h/)
  })

  it('pollInterval 0 on the local executor is refused; 50ms is fine', () => {
    expect(errorOf(local('    pollInterval: 0\n')).message).toMatch(/clusters\.box\.pollInterval: .*at least 10ms/)
    expect(load(local('    pollInterval: 50ms\n')).clusters.box).toMatchObject({ pollIntervalMs: 50 })
  })

  it('the testbed-style 500ms batch poll and the defaults still load', () => {
    expect(load(slurm('    pollInterval: 500ms\n    maxPollInterval: 2s\n')).clusters.hpc).toMatchObject({
      pollIntervalMs: 500,
      maxPollIntervalMs: 2000,
    })
    expect(load(slurm('')).clusters.hpc).toMatchObject({ pollIntervalMs: 15_000, maxPollIntervalMs: 120_000 })
  })
})

describe('killGrace', () => {
  it('30 days is refused with the maximum', () => {
    const error = errorOf(local('    killGrace: 30d\n'))
    expect(error.code).toBe('config-invalid')
    expect(error.message).toMatch(/rpo\.config\.yaml:5:16: clusters\.box\.killGrace: .*at most 1h/)
  })
})

describe('budget periods', () => {
  const budget = (period: string) =>
    project(`    budgets:\n      - { resource: gpu-hours, amount: 100, period: ${period} }\n`)

  it('a fixed period that ends before it starts is refused', () => {
    const error = errorOf(budget('{ from: 2026-03-31, until: 2026-01-01 }'))
    expect(error.code).toBe('config-invalid')
    expect(error.message).toMatch(/rpo\.config\.yaml:4:\d+: projects\.vision\.budgets\.0\.period: .*must come before/)
  })

  it('a fixed period with a boundary that is not a date is refused', () => {
    expect(errorOf(budget('{ from: soon, until: 2026-01-01 }')).message).toMatch(
      /projects\.vision\.budgets\.0\.period: .*"soon" is not an ISO 8601 date/,
    )
  })

  it('rollingDays 0 is refused', () => {
    expect(errorOf(budget('{ rollingDays: 0 }')).message).toContain('projects.vision.budgets.0.period.rollingDays')
  })

  it('a valid fixed period loads', () => {
    expect(load(budget('{ from: 2026-01-01, until: 2026-03-31 }')).projects.vision?.budgets[0]?.period).toEqual({
      from: '2026-01-01',
      until: '2026-03-31',
    })
  })
})

describe('project deadline', () => {
  it('"not a date" is refused, located', () => {
    const error = errorOf(project('    deadline: not a date\n'))
    expect(error.code).toBe('config-invalid')
    expect(error.message).toMatch(
      /rpo\.config\.yaml:3:15: projects\.vision\.deadline: expected an ISO 8601 date-time with a time zone/,
    )
  })

  it('a date-time with Z loads', () => {
    expect(load(project('    deadline: 2026-12-15T00:00:00Z\n')).projects.vision?.deadline).toBe('2026-12-15T00:00:00Z')
  })
})

describe('names and parse errors in the config', () => {
  it('a 250-character project name is refused with the limit', () => {
    const error = errorOf(`projects:\n  ${'p'.repeat(250)}: { importance: 1 }\n`)
    expect(error.code).toBe('config-invalid')
    expect(error.message).toMatch(/rpo\.config\.yaml:2:\d+: projects\.p+: invalid key: .*at most 64 characters/)
  })

  it('an alias to an undefined anchor is a located, typed error', () => {
    const error = errorOf('defaultCluster: *nope\n')
    expect(error.code).toBe('spec-unparsable')
    expect(error.message).toMatch(/rpo\.config\.yaml:1:17: not valid YAML\/JSON: alias \*nope/)
  })
})

describe('timeouts', () => {
  it('an absurd store busyTimeout or SSH connectTimeout is refused', () => {
    expect(errorOf('store: { url: "sqlite:x.db", busyTimeout: 9999999d }\n').message).toMatch(
      /store\.busyTimeout: expected at most 1h/,
    )
    expect(errorOf(slurm('    ssh: { host: h, user: u, connectTimeout: 30d }\n')).message).toMatch(
      /clusters\.hpc\.ssh\.connectTimeout: expected at most 1h/,
    )
  })
})
