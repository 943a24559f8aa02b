/**
 * What each cluster's rounds cost, kept in the store (migration 010) so that a process that does
 * not tick (`rpo serve`'s /metrics) reads the same figures as the one that does: the last round of
 * each cluster and running totals. One upsert per round, one row per cluster.
 */
import { type Kysely, sql } from 'kysely'
import type { Database } from './database.js'
import { storeCall } from './store-calls.js'

/** One finished cluster round, as the engine reports it. */
export interface ClusterRound {
  readonly cluster: string
  /** When the round ended (ISO 8601). */
  readonly at: string
  /** Wall time of the round, lease taken to report, in ms. */
  readonly durationMs: number
  /** Scheduler commands the round ran (squeue, sacct, sbatch, …). */
  readonly commands: number
  /** Runs planned in the round. */
  readonly runs: number
}

/** A cluster's last round and totals since its first recorded round. */
export interface ClusterTickStat {
  readonly cluster: string
  readonly lastAt: string
  readonly lastDurationMs: number
  readonly lastCommands: number
  readonly lastRuns: number
  readonly rounds: number
  readonly durationMsTotal: number
  readonly commandsTotal: number
}

export class ClusterTickStats {
  readonly #db: Kysely<Database>
  readonly #description: string

  constructor(db: Kysely<Database>, description: string) {
    this.#db = db
    this.#description = description
  }

  /** Add one round: it becomes the cluster's last, and its figures are added to the totals. */
  async record(round: ClusterRound): Promise<void> {
    const durationMs = Math.max(0, Math.round(round.durationMs))
    await storeCall(this.#description, async () => {
      await this.#db
        .insertInto('cluster_ticks')
        .values({
          cluster: round.cluster,
          last_at: round.at,
          last_duration_ms: durationMs,
          last_commands: round.commands,
          last_runs: round.runs,
          rounds: 1,
          duration_ms_total: durationMs,
          commands_total: round.commands,
        })
        .onConflict((conflict) =>
          conflict.column('cluster').doUpdateSet({
            last_at: round.at,
            last_duration_ms: durationMs,
            last_commands: round.commands,
            last_runs: round.runs,
            rounds: sql`cluster_ticks.rounds + 1`,
            duration_ms_total: sql`cluster_ticks.duration_ms_total + ${durationMs}`,
            commands_total: sql`cluster_ticks.commands_total + ${round.commands}`,
          }),
        )
        .execute()
    })
  }

  /** Every cluster that has had a round recorded, by name. */
  async list(): Promise<ClusterTickStat[]> {
    return storeCall(this.#description, async () => {
      const rows = await this.#db.selectFrom('cluster_ticks').selectAll().orderBy('cluster').execute()
      return rows.map((row) => ({
        cluster: row.cluster,
        lastAt: row.last_at,
        lastDurationMs: Number(row.last_duration_ms),
        lastCommands: Number(row.last_commands),
        lastRuns: Number(row.last_runs),
        rounds: Number(row.rounds),
        durationMsTotal: Number(row.duration_ms_total),
        commandsTotal: Number(row.commands_total),
      }))
    })
  }
}
