/** GET /v1/projects and /v1/projects/:project: progress, projected completion, deadline slack, bottleneck. */
import { z } from 'zod'
import { RpoError } from '../../core/errors.js'
import { apiRoute, listParam } from '../api-route.js'
import { projectsFor, requireProject } from '../auth.js'
import { ProjectListSchema, ProjectSchema } from '../response-schemas.js'
import { projectViews } from '../run-views.js'

export const projectRoutes = [
  apiRoute({
    method: 'GET',
    url: '/v1/projects',
    scope: 'read',
    tag: 'projects',
    summary: 'Every project (of the config and of the runs): progress, projected completion, deadline slack',
    query: z.strictObject({ project: listParam('project') }),
    response: ProjectListSchema,
    async handler({ app, token, query }) {
      return { projects: await projectViews(app, projectsFor(token, query.project)) }
    },
  }),
  apiRoute({
    method: 'GET',
    url: '/v1/projects/:project',
    scope: 'read',
    tag: 'projects',
    summary: 'One project: progress, projected completion, deadline slack, bottleneck',
    params: z.strictObject({ project: z.string().min(1).max(200) }),
    query: z.strictObject({}),
    response: ProjectSchema,
    errors: { 404: 'no such project (neither in the config nor in any run)' },
    async handler({ app, token, params }) {
      requireProject(token, params.project)
      const [view] = await projectViews(app, [params.project])
      if (!view)
        throw new RpoError(
          'project-not-found',
          `no project "${params.project}": neither the config nor any run names it`,
        )
      return view
    },
  }),
]
