/**
 * Waking a follower as soon as a job may have changed, instead of after its poll interval. Not part
 * of the adapter contract (a batch scheduler says nothing until polled): the local executor
 * implements it (a launcher exited), the simulator too (its virtual clock jumps to the next change),
 * and the composition root hands it to the engine, whose follow loop waits on it.
 */
export interface ChangeNotifier {
  /** Resolve when a job may have changed, or after `timeoutMs` at the latest. */
  waitForChange(timeoutMs: number): Promise<void>
}
