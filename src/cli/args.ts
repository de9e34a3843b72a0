// Command-line option parsing shared by the CLI commands: typed getters that fail with a
// one-line reason naming the option.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export class Options {
  constructor(
    private readonly values: Record<string, string | boolean | undefined>,
    readonly command: string,
  ) {}

  static parse(command: string, argv: string[], spec: OptionSpec): Options {
    try {
      const { values } = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false });
      return new Options(values as Record<string, string | boolean | undefined>, command);
    } catch (e) {
      throw new UsageError(`${command}: ${(e as Error).message}`);
    }
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  string(name: string): string;
  string(name: string, fallback: string | undefined): string | undefined;
  string(name: string, ...rest: [string | undefined] | []): string | undefined {
    const v = this.values[name];
    if (v === undefined) {
      if (rest.length) return rest[0];
      throw new UsageError(`${this.command}: --${name} is required`);
    }
    return String(v);
  }

  /** The bytes of the file option --name names (`path` instead, when the caller resolved it); a file that cannot be read fails naming the option. */
  file(name: string, path: string = this.string(name)): Uint8Array {
    try {
      return new Uint8Array(readFileSync(path));
    } catch (e) {
      throw new UsageError(`${this.command}: --${name} ${path}: ${(e as Error).message}`);
    }
  }

  number(name: string, fallback?: number, check?: { min?: number; max?: number; integer?: boolean }): number {
    const raw = this.values[name];
    if (raw === undefined) {
      if (fallback === undefined) throw new UsageError(`${this.command}: --${name} is required`);
      return fallback;
    }
    const v = Number(raw);
    const bad = (why: string) => new UsageError(`${this.command}: --${name} ${raw}: ${why}`);
    if (!Number.isFinite(v)) throw bad('not a number');
    if (check?.integer && !Number.isInteger(v)) throw bad('must be an integer');
    if (check?.min !== undefined && v < check.min) throw bad(`must be ≥ ${check.min}`);
    if (check?.max !== undefined && v > check.max) throw bad(`must be ≤ ${check.max}`);
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.values[name];
    if (raw === undefined) return fallback;
    if (raw === true || raw === 'true' || raw === '1' || raw === 'yes') return true;
    if (raw === 'false' || raw === '0' || raw === 'no') return false;
    throw new UsageError(`${this.command}: --${name} ${raw}: expected true or false`);
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.values[name];
    if (raw === undefined) return fallback;
    if (!choices.includes(raw as T)) throw new UsageError(`${this.command}: --${name} ${raw}: expected one of ${choices.join(', ')}`);
    return raw as T;
  }

  intList(name: string, length: number): number[] | undefined {
    const raw = this.values[name];
    if (raw === undefined) return undefined;
    const parts = String(raw).split(',').map((s) => Number(s.trim()));
    if (parts.length !== length || parts.some((v) => !Number.isInteger(v) || v <= 0)) {
      throw new UsageError(`${this.command}: --${name} ${raw}: expected ${length} positive integers separated by commas`);
    }
    return parts;
  }
}
