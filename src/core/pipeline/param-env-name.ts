/**
 * The environment variable a sweep parameter is exported as (`lr` → `RPO_PARAM_LR`, `a-b` →
 * `RPO_PARAM_A_B`). One definition, so validation can refuse keys that would collide. Pure.
 */
export function paramEnvName(key: string): string {
  return `RPO_PARAM_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`
}
