/**
 * File reads and atomic writes over one SFTP session. Owns the write protocol: temp file in the
 * target's directory, fsync, then rename over the target, so a reader never sees half a file.
 */

import { posix } from 'node:path'
import type { SFTPWrapper } from 'ssh2'

// SFTP status codes (draft-ietf-secsh-filexfer-02 §7) mapped to the errno names node:fs uses,
// so callers handle a missing file the same way over SSH and locally
const STATUS_TO_ERRNO: Record<number, string> = { 2: 'ENOENT', 3: 'EACCES', 4: 'EIO' }

let tempCounter = 0

/** Read a whole file as UTF-8. A missing file rejects with an error whose `code` is `ENOENT`. */
export async function readSftpFile(sftp: SFTPWrapper, path: string): Promise<string> {
  const content = await call<Buffer>((done) => sftp.readFile(path, done), 'read', path)
  return content.toString('utf8')
}

/**
 * Write `content` to `path` atomically: create missing parent directories, write a temp file next
 * to the target, fsync it (when the server offers `fsync@openssh.com`), then rename it over the
 * target with `posix-rename@openssh.com` (or unlink + rename on servers without it, which leaves a
 * short window without the file). `mode` is applied exactly (not filtered by the server's umask).
 */
export async function writeSftpFile(sftp: SFTPWrapper, path: string, content: string, mode?: number): Promise<void> {
  const dir = posix.dirname(path)
  await makeDirectories(sftp, dir)
  tempCounter += 1
  const tempPath = posix.join(dir, `.${posix.basename(path)}.rpo-tmp-${process.pid}-${tempCounter}`)
  try {
    const handle = await call<Buffer>((done) => sftp.open(tempPath, 'w', done), 'create', tempPath)
    try {
      if (mode !== undefined) await call((done) => sftp.fchmod(handle, mode, done), 'chmod', tempPath)
      const data = Buffer.from(content, 'utf8')
      if (data.length > 0) await call((done) => sftp.write(handle, data, 0, data.length, 0, done), 'write', tempPath)
      await fsyncIfSupported(sftp, handle, tempPath)
    } finally {
      await call((done) => sftp.close(handle, done), 'close', tempPath).catch(() => undefined)
    }
    await renameOver(sftp, tempPath, path)
  } catch (error) {
    await call((done) => sftp.unlink(tempPath, done), 'unlink', tempPath).catch(() => undefined)
    throw error
  }
}

async function renameOver(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  if (await tryExtension((done) => sftp.ext_openssh_rename(from, to, done), 'rename', to)) return
  // plain SFTP rename refuses to replace an existing file (draft-02 §6.5), hence the unlink first
  await call((done) => sftp.unlink(to, done), 'unlink', to).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error
  })
  await call((done) => sftp.rename(from, to, done), 'rename', to)
}

async function fsyncIfSupported(sftp: SFTPWrapper, handle: Buffer, path: string): Promise<void> {
  await tryExtension((done) => sftp.ext_openssh_fsync(handle, done), 'fsync', path)
}

/** Run an OpenSSH SFTP extension; resolves false when the server does not offer it. */
function tryExtension(
  start: (done: (error: Error | null | undefined) => void) => void,
  operation: string,
  path: string,
): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    try {
      start((error) => (error ? reject(toErrnoError(error, operation, path)) : resolve(true)))
    } catch {
      // ssh2 throws synchronously when the server did not advertise the extension
      resolve(false)
    }
  })
}

/** `mkdir -p`: find the deepest existing ancestor, then create downwards. */
async function makeDirectories(sftp: SFTPWrapper, dir: string): Promise<void> {
  const missing: string[] = []
  let current = dir
  while (current !== '/' && current !== '.' && current !== '') {
    const exists = await call<unknown>((done) => sftp.stat(current, done), 'stat', current).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false
        throw error
      },
    )
    if (exists) break
    missing.unshift(current)
    current = posix.dirname(current)
  }
  for (const path of missing) {
    await call((done) => sftp.mkdir(path, done), 'mkdir', path).catch(async (error: NodeJS.ErrnoException) => {
      // another writer may have created it between our stat and mkdir
      const created = await call<unknown>((done) => sftp.stat(path, done), 'stat', path).then(
        () => true,
        () => false,
      )
      if (!created) throw error
    })
  }
}

/** Promisify one ssh2 SFTP callback call and turn its numeric status into an errno-style error. */
function call<T = void>(
  start: (done: (error: Error | null | undefined, value?: T) => void) => void,
  operation: string,
  path: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((error, value) => {
      if (error) reject(toErrnoError(error, operation, path))
      else resolve(value as T)
    })
  })
}

function toErrnoError(error: Error, operation: string, path: string): NodeJS.ErrnoException {
  const status = (error as { code?: unknown }).code
  const errno = typeof status === 'number' ? STATUS_TO_ERRNO[status] : undefined
  if (errno === undefined) return error
  const mapped: NodeJS.ErrnoException = new Error(`sftp ${operation} ${path}: ${error.message}`, { cause: error })
  mapped.code = errno
  mapped.path = path
  return mapped
}
