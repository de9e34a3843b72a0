// Runs the real CLI (`tsx src/cli/main.ts`) as a child process, as a user would.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): CliRun {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
    env: { ...process.env, INIT_CWD: options.cwd ?? ROOT },
  });
  // Dawn/SwiftShader print harmless driver noise on stderr; keep only our lines.
  const stderr = (r.stderr ?? '')
    .split('\n')
    .filter((l) => l && !/XDG_RUNTIME_DIR|^Warning: |While initializing|at InitializeImpl|^\s*$/.test(l))
    .join('\n');
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr };
}
