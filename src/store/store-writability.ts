/**
 * Whether every file of a SQLite store can still be written: the store, its WAL and its shared index
 * (`-shm`), or the folder that must hold them. An immutable file or a read-only mount answers EPERM
 * or EROFS even to root; file permissions answer EACCES to other users.
 */
import { accessSync, constants, existsSync } from 'node:fs'
import path from 'node:path'

/** The first refusal to write one of the store's files, or null when all of them can be written. */
export function storeWriteRefusal(file: string): NodeJS.ErrnoException | null {
  if (file === ':memory:' || file === '') return null
  const present = [file, `${file}-wal`, `${file}-shm`].filter((f) => existsSync(f))
  // a store without its WAL files must be able to create them beside it
  const checked = present.length === 3 ? present : [...present, path.dirname(file)]
  for (const candidate of checked) {
    try {
      accessSync(candidate, constants.W_OK)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return error as NodeJS.ErrnoException
    }
  }
  return null
}
