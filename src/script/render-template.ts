/**
 * The logic-less batch-script template renderer shared by every scheduler: `{{name}}` is shell-quoted
 * on substitution, `{{{name}}}` is a block the caller already built and quoted, `{{! … }}` is a
 * comment. Substitution only — no conditionals or loops; a raw block that renders empty removes its line.
 */
import { RpoError } from '../core/errors.js'
import { quoteShellWord } from './shell-quote.js'

const COMMENT_LINE = /^[ \t]*\{\{![\s\S]*?\}\}[ \t]*\r?\n/gm
const COMMENT = /\{\{![\s\S]*?\}\}/g
const RAW_ALONE = /^[ \t]*\{\{\{\s*([a-z_]+)\s*\}\}\}[ \t]*$/
const PLACEHOLDER = /\{\{\{\s*([a-z_]+)\s*\}\}\}|\{\{\s*([a-z_]+)\s*\}\}/g

/** @param templateName for the error on an unknown placeholder (a bug in the template), e.g. `Slurm template` */
export function renderScriptTemplate(
  templateName: string,
  template: string,
  values: Readonly<Record<string, string>>,
): string {
  const value = (name: string): string => {
    const found = Object.hasOwn(values, name) ? values[name] : undefined
    if (found === undefined) throw new RpoError('internal', `${templateName}: unknown placeholder {{${name}}}`)
    return found
  }
  const lines = template.replace(COMMENT_LINE, '').replace(COMMENT, '').split('\n')
  const kept = lines.filter((line) => {
    const alone = RAW_ALONE.exec(line)
    return alone?.[1] === undefined || value(alone[1]) !== ''
  })
  return kept
    .join('\n')
    .replace(PLACEHOLDER, (_match, raw: string | undefined, quoted: string | undefined) =>
      raw !== undefined ? value(raw) : quoteShellWord(value(quoted ?? '')),
    )
}
