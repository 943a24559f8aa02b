/**
 * The simulator's record of what happened, in order: the thing two runs are compared by (same
 * inputs → the same log), and a readable trace when a scenario surprises.
 */

export type SimEventKind =
  | 'submit'
  | 'reject'
  | 'start'
  | 'end'
  | 'requeue'
  | 'hold'
  | 'release'
  | 'signal'
  | 'checkpoint'
  | 'nice'
  | 'node-down'
  | 'node-up'

export interface SimEvent {
  readonly atMs: number
  readonly kind: SimEventKind
  readonly jobId: string | null
  readonly node: string | null
  readonly detail: string
}

/** `t=120.000s start 3 n1,n2 from=40s` */
export function formatSimEvent(event: SimEvent): string {
  const subject = [event.jobId, event.node].filter((part) => part !== null).join(' ')
  return [`t=${(event.atMs / 1000).toFixed(3)}s`, event.kind, subject, event.detail].filter((p) => p !== '').join(' ')
}
