// What every CLI command receives: a lazily acquired engine and the output streams.
import type { Engine } from '../gpu/engine.ts';

export interface CliContext {
  engine(): Promise<Engine>;
  log(line: string): void;
  warn(line: string): void;
}
