import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  parseSdiag,
  parseSdiagJson,
  rpcCountOfUser,
  rpcDeltaOfUser,
  type SdiagReport,
} from '../../../adapters/slurm/sdiag-parser.js'
import { ParseError } from '../../../src/core/errors.js'
import { sharedFixture } from '../../support/shared-fixtures.js'

const TESTBED = join(import.meta.dirname, 'fixtures', 'testbed-22.05')
const read = (file: string): string => readFileSync(file, 'utf8')

describe('parseSdiag on the 22.05 testbed', () => {
  const report = parseSdiag(read(join(TESTBED, 'sdiag.txt')))

  it('reads the RPC count of every user', () => {
    expect(report.rpcsByUser).toEqual([
      { name: 'rpotest', id: 1001, count: 6467, averageTimeUs: 3078, totalTimeUs: 19_910_834 },
      { name: 'root', id: 0, count: 167, averageTimeUs: 2094, totalTimeUs: 349_774 },
    ])
    expect(rpcCountOfUser(report, 'rpotest')).toBe(6467)
    expect(rpcCountOfUser(report, 'nobody')).toBe(0)
  })

  it('reads the RPC count of every message type, and when the counting started', () => {
    expect(report.rpcsByType).toHaveLength(12)
    expect(report.rpcsByType[0]).toEqual({
      name: 'REQUEST_SUBMIT_BATCH_JOB',
      id: 4003,
      count: 3580,
      averageTimeUs: 1624,
      totalTimeUs: 5_814_737,
    })
    expect(report.rpcsByType.find((r) => r.name === 'REQUEST_JOB_USER_INFO')?.count).toBe(35)
    // by type and by user count the same RPCs
    const sum = (rows: SdiagReport['rpcsByType']) => rows.reduce((total, r) => total + r.count, 0)
    expect(sum(report.rpcsByType)).toBe(sum(report.rpcsByUser))
    expect(report.sampledAt).toBe(1_796_437_798)
    expect(report.dataSince).toBe('Sat Dec 05 02:05:22 2026 (1796436322)')
  })
})

describe('parseSdiag on other outputs', () => {
  it('gives empty tables for an output without RPC statistics (Slurm 17.02, cut before them)', () => {
    const report = parseSdiag(read(sharedFixture('slurm', 'sdiag', 'slurm_exporter-sdiag_2017.txt')))
    expect(report).toEqual({ sampledAt: null, dataSince: 'Wed Apr 12 02:00:00 2017', rpcsByType: [], rpcsByUser: [] })
  })

  it('refuses text that is not sdiag output, and a row it cannot read', () => {
    expect(() => parseSdiag('sdiag: error: slurm_get_statistics: Unable to contact slurm controller')).toThrow(
      ParseError,
    )
    const broken = read(join(TESTBED, 'sdiag.txt')).replace('rpotest         (    1001)', 'rpotest 1001')
    expect(() => parseSdiag(broken)).toThrow(/RPC statistics row/)
  })
})

describe('parseSdiagJson', () => {
  it('reads 23.02 output (plain numbers)', () => {
    const report = parseSdiagJson(read(sharedFixture('slurm', 'sdiag_json', 'rivos_exporter-sdiag_json_23.02.json')))
    expect(report.rpcsByUser.map((r) => [r.name, r.count])).toEqual([
      ['root', 141_368],
      ['abdh', 20_954],
    ])
    expect(report.rpcsByType[0]).toEqual({
      name: 'REQUEST_FED_INFO',
      id: 2049,
      count: 94_114,
      averageTimeUs: 43,
      totalTimeUs: 4_069_862,
    })
    expect(report.sampledAt).toBe(1_698_885_571)
    expect(report.dataSince).toBe('1698883200')
  })

  it('reads 24.05 output (numbers wrapped as {set, infinite, number})', () => {
    const report = parseSdiagJson(read(sharedFixture('slurm', 'sdiag_json', 'rivos_exporter-sdiag_json_24.05.json')))
    expect(report.sampledAt).toBe(1_739_832_148)
    expect(report.rpcsByType[0]).toMatchObject({
      name: 'MESSAGE_NODE_REGISTRATION_STATUS',
      count: 6,
      averageTimeUs: 828,
    })
    expect(report.rpcsByUser.length).toBeGreaterThan(0)
    for (const row of report.rpcsByUser) expect(row.count).toBeGreaterThanOrEqual(0)
  })

  it('refuses what is not sdiag JSON', () => {
    expect(() => parseSdiagJson('{"meta": {}}')).toThrow(/statistics/)
    expect(() => parseSdiagJson('sdiag: unrecognized option')).toThrow(ParseError)
  })
})

describe('rpcDeltaOfUser', () => {
  const reading = (count: number, dataSince = 'Sat Dec 05 02:05:22 2026'): SdiagReport => ({
    sampledAt: null,
    dataSince,
    rpcsByType: [],
    rpcsByUser: [{ name: 'rpotest', id: 1001, count, averageTimeUs: 0, totalTimeUs: 0 }],
  })

  it('is the growth of the user count between two readings', () => {
    expect(rpcDeltaOfUser(reading(6467), reading(6470), 'rpotest')).toBe(3)
    expect(rpcDeltaOfUser(reading(6467), reading(6467), 'rpotest')).toBe(0)
  })

  it('counts from the reset when the counters were reset in between', () => {
    expect(rpcDeltaOfUser(reading(6467), reading(4, 'Sat Dec 05 03:00:00 2026'), 'rpotest')).toBe(4)
    expect(rpcDeltaOfUser(reading(6467), reading(5), 'rpotest')).toBe(5)
  })
})
