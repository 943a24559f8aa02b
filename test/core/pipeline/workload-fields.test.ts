/**
 * A task's framework, model and software environment as a researcher writes them: read, defaulted,
 * merged over the pipeline's defaults, and refused with a located message when wrong.
 */
import { describe, expect, it } from 'vitest'
import { loadPipelineText } from '../../../src/config/load-pipeline.js'
import { parseParameterCount } from '../../../src/core/pipeline/workload-fields.js'

function load(lines: string[]) {
  return loadPipelineText('pipeline.yaml', `${lines.join('\n')}\n`).pipeline
}

function rejection(lines: string[]): string {
  try {
    load(lines)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('expected the pipeline to be rejected')
}

describe('framework, model and environment fields', () => {
  it('reads parameter counts written the ways people write them', () => {
    expect(parseParameterCount('7B')).toBe(7e9)
    expect(parseParameterCount('350m')).toBe(350e6)
    expect(parseParameterCount('1.3e9')).toBe(1.3e9)
    expect(parseParameterCount('70_000_000')).toBe(70e6)
    expect(parseParameterCount(125e6)).toBe(125e6)
    expect(parseParameterCount('seven')).toBeNull()
    expect(parseParameterCount(0)).toBeNull()
  })

  it('resolves the model with its defaults and the framework from the pipeline defaults', () => {
    const pipeline = load([
      'name: demo',
      'defaults:',
      '  framework: pytorch-ddp',
      '  environment:',
      '    modules: [cuda/12.1, nccl]',
      '    conda: base',
      'tasks:',
      '  train:',
      '    command: python train.py',
      '    model: {parameters: 7B, activations: 6G}',
      '    environment:',
      '      venv: /opt/venvs/train',
      '      container: {image: /images/torch.sif, bind: [/data]}',
      '  prep:',
      '    command: python prep.py',
      '    framework: sklearn',
    ])
    const train = pipeline.tasks.find((task) => task.name === 'train')
    const prep = pipeline.tasks.find((task) => task.name === 'prep')
    expect(train?.framework).toBe('pytorch-ddp')
    expect(train?.model).toEqual({ parameters: 7e9, precision: 'mixed', optimizer: 'adamw', activationsMb: 6144 })
    // the task's venv replaces the default conda; the default modules stay
    expect(train?.environment).toEqual({
      modules: ['cuda/12.1', 'nccl'],
      conda: null,
      venv: '/opt/venvs/train',
      container: { image: '/images/torch.sif', runtime: 'apptainer', bind: ['/data'], options: [] },
      setup: [],
    })
    expect(prep?.framework).toBe('sklearn')
    expect(prep?.model).toBeNull()
    expect(prep?.environment?.conda).toBe('base')
  })

  it('refuses an unknown framework, a bad parameter count and conda with venv, each located', () => {
    const message = rejection([
      'name: demo',
      'tasks:',
      '  train:',
      '    command: python train.py',
      '    framework: pytorch-lightning',
      '    model: {parameters: lots}',
      '    environment: {conda: base, venv: /opt/v}',
    ])
    expect(message).toMatch(/pipeline\.yaml:5:\d+: tasks\.train\.framework: .*pytorch-ddp/)
    expect(message).toMatch(/tasks\.train\.model\.parameters: expected a parameter count such as 350M, 7B or 1\.3e9/)
    expect(message).toMatch(/tasks\.train\.environment: expected at most one of "conda" or "venv"/)
  })
})
