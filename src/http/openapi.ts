/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the routes' zod schemas
 * (`z.toJSONSchema`, draft 2020-12, which OpenAPI 3.1 speaks): query and path parameters as their
 * input schemas, bodies and responses as theirs, schemas with an id shared under
 * components.schemas. Served at /v1/openapi.json and committed as docs/openapi.json
 * (`rpo serve --print-openapi` regenerates it; a test keeps the two equal).
 */
import { z } from 'zod'
import type { ApiRoute } from './api-route.js'
import { ErrorSchema } from './response-schemas.js'

type JsonSchema = Record<string, unknown>

const COMMON_ERRORS: Readonly<Record<number, string>> = {
  400: 'a bad parameter or body; the message names it',
  401: 'no token, or an unknown or revoked one',
  403: 'the token lacks the scope, or may not see that project',
}

export function openApiDocument(routes: readonly ApiRoute[], version: string): JsonSchema {
  const components: Record<string, JsonSchema> = {}
  const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const generated = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' })
    // schemas with an id (`.meta({ id })`) come as $defs; OpenAPI keeps them under components
    const json = JSON.parse(JSON.stringify(generated).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema
    for (const [id, def] of Object.entries((json.$defs ?? {}) as Record<string, JsonSchema>)) components[id] = def
    const { $schema: _schema, $defs: _defs, ...rest } = json
    return rest
  }
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    const parameters: JsonSchema[] = []
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      const shape = (schema as z.ZodObject | undefined)?.shape as Record<string, z.ZodType> | undefined
      for (const [name, field] of Object.entries(shape ?? {})) {
        const optional = field.safeParse(undefined).success
        parameters.push({
          name,
          in: where,
          required: where === 'path' || !optional,
          schema: schemaOf(field, 'input'),
        })
      }
    }
    const responses: Record<string, unknown> = {
      200: {
        description: 'OK',
        content:
          'mediaType' in route.response
            ? { [route.response.mediaType]: { schema: { type: 'string', description: route.response.description } } }
            : { 'application/json': { schema: schemaOf(route.response as z.ZodType, 'output') } },
      },
    }
    const errorBody = { 'application/json': { schema: schemaOf(ErrorSchema, 'output') } }
    for (const [status, description] of Object.entries({ ...COMMON_ERRORS, ...route.errors }))
      responses[status] = { description, content: errorBody }
    paths[path] = {
      ...paths[path],
      [route.method.toLowerCase()]: {
        operationId: operationId(route),
        summary: route.summary,
        tags: [route.tag],
        security: [{ bearer: [] }],
        'x-rpo-scope': route.scope,
        ...(parameters.length > 0 ? { parameters } : {}),
        ...(route.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: schemaOf(route.body, 'input') } },
              },
            }
          : {}),
        responses,
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'rpo HTTP API',
      version,
      description:
        'Runs, projects, budgets, history and events of an rpo store (`rpo serve`). Every route needs a bearer token (`rpo token create --scope read|admin [--project P]`); admin tokens may also change budgets.',
    },
    servers: [{ url: 'http://127.0.0.1:8470' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an rpo_… token' } },
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
    },
  }
}

function operationId(route: ApiRoute): string {
  const words = route.url
    .split('/')
    .filter((part) => part !== '' && part !== 'v1')
    .map((part) => (part.startsWith(':') ? `by-${part.slice(1)}` : part))
  return [route.method.toLowerCase(), ...words].join('-').replace(/-([a-z])/gi, (_, c: string) => c.toUpperCase())
}
