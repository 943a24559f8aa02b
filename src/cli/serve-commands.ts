/**
 * `rpo serve` (the HTTP API, src/http) and `rpo token create|list|revoke` (its bearer tokens).
 * serve binds 127.0.0.1 unless told otherwise, prints its URL, and on SIGINT or SIGTERM stops
 * taking requests, ends open event streams and exits 0. A token's secret is printed once, at
 * creation; the store keeps only its hash.
 */
import { type Command, InvalidArgumentError, Option } from 'commander'
import { parseName } from '../budget/budget-change-input.js'
import { RpoError } from '../core/errors.js'
import { currentUser } from '../current-user.js'
import { apiDocument, buildHttpServer } from '../http/build-server.js'
import { createMetrics } from '../metrics/create-metrics.js'
import { TOKEN_SCOPES, type TokenScope } from '../store/token-store.js'
import type { CommandContext } from './command-context.js'
import { renderTable } from './format.js'

const DEFAULT_PORT = 8470
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

export function registerServeCommands(program: Command, context: CommandContext): void {
  const { withApp, out } = context
  program
    .command('serve')
    .description(
      'serve the HTTP/JSON API (runs, projects, budgets, history, efficiency, events) to bearer-token holders',
    )
    .option('--host <address>', 'address to bind (default 127.0.0.1: this machine only)', '127.0.0.1')
    .option('--port <port>', `TCP port (0: any free one)`, port, DEFAULT_PORT)
    .option('--log', 'log each request to stderr as a JSON line (never its Authorization header)')
    .option('--print-openapi', 'print the OpenAPI 3.1 document (docs/openapi.json) and exit')
    .addHelpText(
      'after',
      `
Every request needs a token: \`rpo token create --scope read\`, then
  curl -H "Authorization: Bearer rpo_…" http://127.0.0.1:${DEFAULT_PORT}/v1/runs
The API is documented at /v1/openapi.json. Stop with Ctrl-C (or SIGTERM): exit 0.`,
    )
    .action(async (options: { host: string; port: number; log?: boolean; printOpenapi?: boolean }) => {
      if (options.printOpenapi) {
        out(JSON.stringify(apiDocument(), null, 2))
        return
      }
      await withApp(async (app) => {
        const server = await buildHttpServer(app, {
          metrics: createMetrics(app),
          ...(options.log ? { log: { stream: process.stderr } } : {}),
        })
        try {
          await server.listen({ host: options.host, port: options.port })
        } catch (error) {
          throw listenError(error, options.host, options.port)
        }
        const stopped = new Promise<string>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'))
          process.once('SIGTERM', () => resolve('SIGTERM'))
        })
        const bound = server.server.address()
        const address = typeof bound === 'object' ? bound : null
        const host = address?.family === 'IPv6' ? `[${address.address}]` : (address?.address ?? options.host)
        if (!LOOPBACK.has(options.host))
          out(
            `note: bound to ${options.host}: other machines can reach this API; tokens travel unencrypted without a TLS proxy in front`,
          )
        out(
          `rpo serve: listening on http://${host}:${address?.port ?? options.port} (${app.store.description}); Ctrl-C stops`,
        )
        const signal = await stopped
        await server.close()
        out(`rpo serve: stopped (${signal})`)
      })
    })

  const token = program.command('token').description('bearer tokens of the HTTP API (`rpo serve`)')
  token
    .command('create')
    .description('create a token and print it once (only its hash is stored)')
    .addOption(
      new Option('--scope <scope>', 'read: everything rpo serve shows; admin: also change budgets')
        .choices(TOKEN_SCOPES)
        .makeOptionMandatory(),
    )
    .option('--project <name>', 'restrict the token to one project')
    .option('--name <name>', 'a name to recognise it by (default: its id)')
    .option('--json', 'print as JSON (the secret included, once)')
    .addHelpText(
      'after',
      `
Admin tokens change budgets as the user who created them ($RPO_USER, else the login name), under
the same permission checks as \`rpo budget set|grant|revoke\`.`,
    )
    .action(async (options: { scope: TokenScope; project?: string; name?: string; json?: boolean }) => {
      const project = options.project === undefined ? null : parseName('--project', 'project', options.project)
      await withApp(async (app) => {
        const { token: created, secret } = await app.store.tokens.create({
          scope: options.scope,
          project,
          createdBy: currentUser(),
          now: new Date(app.clock()).toISOString(),
          ...(options.name !== undefined ? { name: options.name } : {}),
        })
        if (options.json) {
          out(JSON.stringify({ ...created, token: secret }))
          return
        }
        out(
          `token ${created.id} (${created.scope}${created.project ? `, project ${created.project} only` : ''}) created; it is shown this once, keep it secret:`,
        )
        out(secret)
      })
    })

  token
    .command('list')
    .description('list the tokens (never their secrets)')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      await withApp(async (app) => {
        const tokens = await app.store.tokens.list()
        if (options.json) {
          out(JSON.stringify(tokens, null, 2))
          return
        }
        if (tokens.length === 0) {
          out('no API tokens; create one with `rpo token create --scope read`')
          return
        }
        const when = (iso: string | null) => (iso === null ? '-' : iso.slice(0, 16).replace('T', ' '))
        out(
          renderTable(
            ['ID', 'NAME', 'SCOPE', 'PROJECT', 'CREATED BY', 'CREATED', 'LAST USED', 'REVOKED'],
            tokens.map((t) => [
              t.id,
              t.name,
              t.scope,
              t.project ?? '(all)',
              t.createdBy ?? '-',
              when(t.createdAt),
              when(t.lastUsedAt),
              when(t.revokedAt),
            ]),
          ),
        )
      })
    })

  token
    .command('revoke')
    .description('revoke a token: it is refused (401) from then on')
    .argument('<id>', 'the token id, as `rpo token list` shows it')
    .option('--json', 'print as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      await withApp(async (app) => {
        const revoked = await app.store.tokens.revoke(id, new Date(app.clock()).toISOString())
        out(options.json ? JSON.stringify(revoked) : `token ${revoked.id} revoked at ${revoked.revokedAt}`)
      })
    })
}

function port(text: string): number {
  const trimmed = text.trim()
  const value = /^\d{1,5}$/.test(trimmed) ? Number(trimmed) : Number.NaN
  if (!(value >= 0 && value <= 65535))
    throw new InvalidArgumentError(`expected a TCP port from 0 to 65535, got "${text}"`)
  return value
}

/** Why the address cannot be bound, in words (the common reasons are the user's to fix, exit 2). */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code
  const where = `${host}:${port}`
  if (code === 'EADDRINUSE')
    return new RpoError(
      'usage',
      `cannot listen on ${where}: the port is in use (another rpo serve?); pick one with --port`,
      { cause: error },
    )
  if (code === 'EACCES')
    return new RpoError(
      'usage',
      `cannot listen on ${where}: not allowed (ports below 1024 need privileges); pick another --port`,
      { cause: error },
    )
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new RpoError('usage', `cannot listen on ${where}: no such address on this machine; check --host`, {
      cause: error,
    })
  return error
}
