/**
 * Where the shared cluster traces are: `../shared/traces` beside the checkout (as laid out for
 * developers and CI), or $RPO_TRACES. Missing traces fail the suites that replay them.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'

export const SHARED_TRACES = process.env.RPO_TRACES ?? path.resolve(import.meta.dirname, '../../../shared/traces')

if (!existsSync(SHARED_TRACES)) {
  throw new Error(`shared cluster traces not found at ${SHARED_TRACES} (set RPO_TRACES)`)
}

export const ALIBABA_TRACE = path.join(SHARED_TRACES, 'alibaba_gpu_v2023_openb_pod_list_default.csv')
export const PHILLY_TRACE = path.join(SHARED_TRACES, 'philly_derived_pcs_trace_ee9e8c.csv')

export function sharedTrace(name: string): string {
  return path.join(SHARED_TRACES, name)
}
