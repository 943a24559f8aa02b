/** What a load that must refuse its input threw: the typed RpoError, or the test fails saying so. */
import { loadPipelineText } from '../../src/config/load-pipeline.js'
import { isRpoError, type RpoError } from '../../src/core/errors.js'

export function rejectionOf(load: () => unknown, what = 'the input'): RpoError {
  let thrown: unknown
  try {
    load()
  } catch (error) {
    thrown = error
  }
  if (thrown === undefined) throw new Error(`expected ${what} to be rejected`)
  if (!isRpoError(thrown)) throw thrown
  return thrown
}

/** The error a pipeline file's text is refused with. */
export function pipelineRejection(text: string, file = 'pipeline.yaml'): RpoError {
  return rejectionOf(() => loadPipelineText(file, text), 'the pipeline')
}
