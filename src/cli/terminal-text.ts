/**
 * What reaches the user's terminal. Text rpo prints comes partly from tasks and files (output,
 * params, foreach items, reasons, scheduler messages); a task that prints `ESC ] 0 ; … BEL` would
 * otherwise rename the window, clear the screen or worse for whoever runs `rpo run`/`rpo status`.
 * Every byte rpo prints goes through `toTerminalText`; the progress reporter's own status-line
 * escapes are the one exception, written around already-cleaned text.
 */

// C0 controls except TAB and LF, DEL, C1 controls, and the bidirectional overrides and isolates
// that reorder what is shown ("Trojan Source"). CR stays out: a lone CR overwrites the line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * Shows each unsafe character as a visible `\u001b`-style escape instead of executing it. The same
 * spelling is a valid escape inside a JSON string, so `--json` output stays valid and means the same.
 */
export function toTerminalText(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The part of a writable stream the CLI prints through. */
export interface TextSink {
  write(text: string): boolean
  readonly isTTY?: boolean
}

/** A sink that cleans everything written to `stream` with `toTerminalText`. */
export function terminalSafe(stream: TextSink): TextSink {
  return {
    write: (text: string) => stream.write(toTerminalText(String(text))),
    get isTTY() {
      return stream.isTTY
    },
  }
}
