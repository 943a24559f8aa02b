// Who may change a project's budget (issue #10, 14): global admins anywhere, a project's admins
// there; anyone when no admins are configured at all; nobody else once any are.
import { describe, expect, it } from 'vitest'
import { budgetPermission } from '../../../src/core/policy/budget-permission.js'

const admins = {
  global: ['root'],
  projects: { vision: { admins: ['alice'] }, nlp: {} },
}

describe('budgetPermission', () => {
  it('lets anyone change any budget while no admins are configured anywhere', () => {
    const none = { global: null, projects: { vision: {}, nlp: {} } }
    expect(budgetPermission(none, 'mallory', 'vision')).toEqual({
      kind: 'allowed',
      as: 'no admins are configured, so anyone may',
    })
  })

  it('lets a global admin change every project and a project admin only their own', () => {
    expect(budgetPermission(admins, 'root', 'nlp')).toEqual({ kind: 'allowed', as: 'global admin' })
    expect(budgetPermission(admins, 'alice', 'vision')).toEqual({ kind: 'allowed', as: 'admin of project vision' })
    expect(budgetPermission(admins, 'alice', 'nlp')).toEqual({
      kind: 'refused',
      reason:
        "user alice may not change project nlp's budget; its admins are: none, global admins: root (the config's projects.nlp.admins and admins)",
    })
  })

  it('refuses everyone else, an unknown user, and everyone under an empty admin list', () => {
    expect(budgetPermission(admins, 'mallory', 'vision', 'lend from')).toMatchObject({
      kind: 'refused',
      reason: expect.stringMatching(
        /^user mallory may not change project vision's budget \(lend from it\); its admins are: alice, global admins: root/,
      ),
    })
    expect(budgetPermission(admins, null, 'vision')).toMatchObject({
      reason: expect.stringMatching(/^an unknown user \(set \$RPO_USER\) may not/),
    })
    // an explicitly empty list is configured: it restricts changes to nobody (but the config file)
    expect(budgetPermission({ global: [], projects: {} }, 'root', 'vision').kind).toBe('refused')
    // a project list alone restricts every project, not only that one
    expect(budgetPermission({ global: null, projects: { vision: { admins: ['alice'] } } }, 'bob', 'nlp').kind).toBe(
      'refused',
    )
  })
})
