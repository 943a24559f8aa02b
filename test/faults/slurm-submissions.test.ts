// The counting behind the fault suite's "0 duplicates": array tasks are attributed to their
// instance's submission key, pending array ranges are expanded, plain jobs keep their name.
import { describe, expect, it } from 'vitest'
import { expandArrayJobId, instanceKeyOf } from './support/slurm-submissions.js'

describe('counting submissions by key', () => {
  it('expands pending array ranges, with and without a throttle', () => {
    expect(expandArrayJobId('123_[4-6,9%2]')).toEqual(['123_4', '123_5', '123_6', '123_9'])
    expect(expandArrayJobId('123_[0]')).toEqual(['123_0'])
    expect(expandArrayJobId('123_7')).toEqual(['123_7'])
    expect(expandArrayJobId('456')).toEqual(['456'])
  })

  it("maps an array task to its instance's key and leaves plain jobs as named", () => {
    expect(instanceKeyOf('123_7', 'rpo.run-1.train.array.2')).toBe('rpo.run-1.train.7.2')
    expect(instanceKeyOf('124', 'rpo.run-1.report.1')).toBe('rpo.run-1.report.1')
    expect(instanceKeyOf('125', 'rpo.run-1.train.3.1')).toBe('rpo.run-1.train.3.1')
  })
})
