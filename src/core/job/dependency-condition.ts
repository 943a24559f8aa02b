/**
 * When a dependent may start, in the core's words: after its upstream succeeded, finished in any
 * way, or failed. The pipeline schema, the planner and every adapter's native dependencies share it.
 */
export type DependencyCondition = 'succeeded' | 'finished' | 'failed'
