/** Where the installed rpo package lives, to find templates/ from both src/ (tests) and dist/ (installed). */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | null = null

export function packageRoot(): string {
  if (cached) return cached
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'templates')) || !existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir)
      throw new Error('rpo: cannot find the package root (templates/ is missing from the installation)')
    dir = parent
  }
  cached = dir
  return dir
}

export function templatePath(...parts: string[]): string {
  return path.join(packageRoot(), 'templates', ...parts)
}
