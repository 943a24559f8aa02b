/**
 * The HTTP API's response bodies as zod schemas: what the OpenAPI document (openapi.ts) publishes
 * as JSON Schema, what the server parses every answer with before sending it, and what the tests
 * parse every response with, so the document cannot drift from what the server sends. By subject
 * under schemas/: runs, tasks, attempts and projects; budgets; history, efficiency and events.
 *
 * Each schema that publishes a library type (RunProgress, AttemptRecord, ResourceUsage, the budget
 * report, AttemptHistory, HistoryEfficiency, …) is tied to it at compile time by `mirrors`
 * (schemas/mirror.ts): a field of the type missing from the schema, or the other way round, fails
 * `tsc`. Every object is strict: a field the server is handed that its schema does not know fails
 * the answer (a bug, 500) rather than vanishing from it unseen.
 */
export * from './schemas/budget-schemas.js'
export * from './schemas/history-schemas.js'
export * from './schemas/run-schemas.js'
export { ErrorSchema } from './schemas/shared.js'
