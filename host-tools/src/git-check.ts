/**
 * Whether a path where a secret is about to be written would be picked up by git: inside a git
 * work tree and not ignored. Asks the `git` command; when git is absent or the path is outside
 * any work tree, the answer is "no" (nothing to warn about).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The work tree root holding `path` when git would track it (not ignored); undefined otherwise. */
export function unignoredGitWorkTree(path: string): string | undefined {
  const full = resolve(path);
  // git -C needs a directory: the nearest existing one above the path.
  let dir = dirname(full);
  while (!existsSync(dir)) {
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  const git = (args: string[]) => spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  const top = git(['rev-parse', '--show-toplevel']);
  if (top.error !== undefined || top.status !== 0) return undefined;
  // check-ignore: exit 0 ignored, 1 not ignored, 128 error (e.g. the path is inside .git).
  const ignored = git(['check-ignore', '-q', '--no-index', full]);
  if (ignored.status !== 1) return undefined;
  return top.stdout.trim();
}

/** A one-line warning for stderr, or undefined when the path is safe from `git add`. */
export function secretInGitWarning(path: string, what: string): string | undefined {
  const root = unignoredGitWorkTree(path);
  if (root === undefined) return undefined;
  return `warning: ${what} ${path} is inside the git work tree ${root} and not ignored by git: add it to .gitignore (or write it elsewhere) so that it is never committed`;
}
