/**
 * Child processes die with the test file that started them. The `exit` handlers that kill them
 * do not run when the file's process is killed (the runner's timeout, Ctrl-C, a CI cancel), so
 * each child gets a watcher: a small shell blocked reading a pipe from this process. When this
 * process dies, however it dies, the pipe closes and the watcher SIGKILLs the child. When the
 * child exits first, the watcher is stopped, so it never signals a recycled pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export function dieWithParent(child: ChildProcess): void {
  if (child.pid === undefined) return;
  const watcher = spawn('/bin/sh', ['-c', `read _ignored; kill -KILL ${child.pid} 2>/dev/null`], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watcher.on('error', () => {});
  // neither the watcher nor its pipe keeps this process alive
  watcher.unref();
  watcher.stdin?.on('error', () => {});
  (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.once('exit', () => watcher.kill('SIGKILL'));
}
