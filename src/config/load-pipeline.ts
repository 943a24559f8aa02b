/**
 * Loading a pipeline file: read → parse (YAML or JSON) → validate (located errors) → resolve
 * (units, references, cycles) → expand (matrix). The one path every pipeline takes into rpo.
 */
import { createHash } from 'node:crypto'
import path from 'node:path'
import type { TaskInstance } from '../core/pipeline/expand-pipeline.js'
import { expandPipeline } from '../core/pipeline/expand-pipeline.js'
import { PipelineSchema, type PipelineSpec } from '../core/pipeline/pipeline-schema.js'
import { type ResolvedPipeline, resolvePipeline } from '../core/pipeline/resolved-pipeline.js'
import { quoteShellWord } from '../script/shell-quote.js'
import { parseDocumentText, readDocumentFile, validateDocument } from './document.js'

export interface LoadedPipeline {
  readonly file: string
  /** The folder commands run in: the pipeline file's folder. */
  readonly workDir: string
  readonly spec: PipelineSpec
  readonly pipeline: ResolvedPipeline
  readonly instances: readonly TaskInstance[]
  /** Hash of the validated spec: a rerun of an unchanged file continues its unfinished run. */
  readonly specHash: string
}

export function loadPipelineFile(file: string): LoadedPipeline {
  const absolute = path.resolve(file)
  return buildPipeline(absolute, validateDocument(readDocumentFile(absolute, 'spec'), PipelineSchema, 'spec-invalid'))
}

export function loadPipelineText(file: string, text: string): LoadedPipeline {
  const absolute = path.resolve(file)
  return buildPipeline(absolute, validateDocument(parseDocumentText(absolute, text), PipelineSchema, 'spec-invalid'))
}

function buildPipeline(file: string, spec: PipelineSpec): LoadedPipeline {
  const workDir = path.dirname(file)
  const pipeline = resolvePipeline(spec, {
    scriptCommand: (script) => `bash ${quoteShellWord(path.resolve(workDir, script))}`,
  })
  const instances = expandPipeline(pipeline)
  const specHash = createHash('sha256').update(stableStringify(spec)).digest('hex').slice(0, 16)
  return { file, workDir, spec, pipeline, instances, specHash }
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}
