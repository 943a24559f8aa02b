/**
 * From the pipeline file to the batch script: a task's `framework` and `environment` reach its
 * JobSubmission and so its script, and a sweep whose instances need a launcher or an environment
 * goes out one job per instance (the array scripts render plain commands only).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderSlurmScript, SLURM_JOB_TEMPLATE_FILE } from '../../adapters/slurm/slurm-script.js'
import { PlanDriver, submissionOf } from '../support/fixtures.js'

const TEMPLATE = readFileSync(join(import.meta.dirname, '..', '..', SLURM_JOB_TEMPLATE_FILE), 'utf8')

const PIPELINE = (framework: string) => `
name: demo
defaults:
  environment: { modules: [cuda/12.1], conda: torch }
tasks:
  train:
    command: python train.py --lr {{params.lr}}
    framework: ${framework}
    matrix: { lr: [0.1, 0.01] }
    resources: { nodes: 2, cpus: 8, gpus: 4, time: 1h }
    environment: { setup: [export NCCL_DEBUG=WARN] }
`

describe('framework and environment from the pipeline to the script', () => {
  it('reach the submission and the Slurm script; the sweep is not an array', () => {
    const run = new PlanDriver(PIPELINE('pytorch-ddp'))
    run.tick()
    const job = submissionOf(run, 'train.0', 0)
    expect(job.framework).toBe('pytorch-ddp')
    expect(job.environment).toEqual({
      modules: ['cuda/12.1'],
      conda: 'torch',
      venv: null,
      container: null,
      setup: ['export NCCL_DEBUG=WARN'],
    })
    expect(job.array).toBeUndefined()
    const script = renderSlurmScript(TEMPLATE, job)
    const at = (text: string) => script.indexOf(text)
    expect(at('module load cuda/12.1')).toBeGreaterThan(0)
    expect(at('module load cuda/12.1')).toBeLessThan(at('conda activate torch'))
    expect(at('conda activate torch')).toBeLessThan(at('export NCCL_DEBUG=WARN'))
    expect(at('export NCCL_DEBUG=WARN')).toBeLessThan(at('exec torchrun'))
    expect(script).toContain('--nproc_per_node=4')
  })

  it('a sweep of single-process tasks still goes out as a job array', () => {
    const run = new PlanDriver(
      PIPELINE('pytorch')
        .replace('nodes: 2', 'nodes: 1')
        .replace(/defaults:\n.*\n/, '')
        .replace(/ {4}environment:.*\n/, ''),
    )
    run.tick()
    const job = submissionOf(run, 'train.1', 0)
    expect(job.framework).toBe('pytorch')
    expect(job.array?.index).toBe(1)
  })
})
