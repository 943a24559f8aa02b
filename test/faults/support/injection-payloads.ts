/**
 * The injection pipeline: hostile strings — command substitution, backticks, quotes, newlines,
 * terminal escapes, `../`, SQL — planted in every user-controlled value that reaches a script, a
 * path, a terminal or the store: sweep parameters (as arguments and RPO_PARAM_*), foreach items
 * (written by a task as its outputs), env values, metadata, descriptions. Each task writes what it
 * received into $GOT, so the test can compare it with what was planted. A canary file appears if
 * anything was executed.
 */

export function payloads(canary: string): string[] {
  return [
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    `'; touch ${canary}; echo '`,
    `"; touch ${canary}; echo "`,
    `a\nb; touch ${canary}`,
    `x\r\ny`,
    `\u001b]0;pwned\u0007\u001b[2J\u001b[31mred\u001b[0m`,
    `\u009b31m8-bit CSI`,
    '../../../../../../tmp/rpo-escape',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, planted on purpose
    '$HOME ${PATH} %s %n',
    "'); DROP TABLE runs; --",
    '{{params.v}} {{item}}',
    ' leading and trailing ',
    'tab\there',
    '\\',
    '*',
    '-n',
    '',
  ]
}

/** Pipeline text (YAML; every hostile value written as a JSON string, which YAML reads as is). */
export function injectionPipeline(values: readonly string[], got: string, resources: string): string {
  const q = (s: string) => JSON.stringify(s)
  const record = (suffix: string, expr: string) => `printf '%s' ${expr} > "$GOT/$RPO_TASK_ID.${suffix}"`
  return `
name: injected
description: ${q(values[6] as string)}
env:
  GOT: ${q(got)}
  HOSTILE: ${q(values[0] as string)}
defaults:
  resources: ${resources}
  retries: { max: 0 }
tasks:
  sweep:
    description: ${q(values[0] as string)}
    metadata: { note: ${q(values[6] as string)}, path: ${q(values[8] as string)} }
    matrix: { v: [${values.map(q).join(', ')}] }
    env: { TASK_HOSTILE: ${q(values[2] as string)} }
    command: |
      mkdir -p "$GOT"
      ${record('argv', '{{params.v}}')}
      ${record('param', '"$RPO_PARAM_V"')}
      ${record('env', '"$HOSTILE|$TASK_HOSTILE"')}
  split:
    command: printf '%s' "$OUT" > "$RPO_OUTPUTS"
    env: { OUT: ${q(JSON.stringify({ items: values, note: values[6] }))} }
  fan:
    foreach: { task: split, output: items }
    command: |
      mkdir -p "$GOT"
      ${record('argv', '{{item}}')}
      ${record('item', '"$RPO_ITEM"')}
`
}

/** What each task must have written: file name in $GOT → content. */
export function expectedFiles(values: readonly string[]): Map<string, string> {
  const files = new Map<string, string>()
  values.forEach((v, i) => {
    files.set(`sweep.${i}.argv`, v)
    files.set(`sweep.${i}.param`, v)
    files.set(`sweep.${i}.env`, `${values[0]}|${values[2]}`)
    files.set(`fan.${i}.argv`, v)
    files.set(`fan.${i}.item`, v)
  })
  return files
}
