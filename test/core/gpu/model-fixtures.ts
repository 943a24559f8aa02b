/** Shared by the GPU tests: a model as a pipeline resolves it, mixed precision with AdamW by default. */
import type { ResolvedModel } from '../../../src/core/pipeline/workload-fields.js'

export const modelOf = (parameters: number, rest: Partial<ResolvedModel> = {}): ResolvedModel => ({
  parameters,
  precision: 'mixed',
  optimizer: 'adamw',
  activationsMb: null,
  ...rest,
})
