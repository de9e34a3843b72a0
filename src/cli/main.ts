// `npm run -s fcmae -- <command> [options]`: the engine in Node (Dawn), headless.
// Every failure ends with exit code 1 (2 for usage errors) and a one-line reason.
import { adapterLabel } from '../gpu/device.ts';
import { createEngine, destroyEngine, type Engine } from '../gpu/engine.ts';
import { acquireNodeGpu } from '../gpu/node-device.ts';
import { loadShadersFromDisk } from '../gpu/shader-library-node.ts';
import { UsageError } from './args.ts';
import type { CliContext } from './context.ts';
import { gradsCommand, gradsUsage } from './commands/grads.ts';
import { trainCommand, trainUsage } from './commands/train.ts';
import { reconstructCommand, reconstructUsage } from './commands/reconstruct.ts';
import { convertCommand, convertUsage } from './commands/convert.ts';
import { benchCommand, benchUsage } from './commands/bench.ts';
import { embedCommand, embedUsage } from './commands/embed.ts';
import { finetuneGradsCommand, finetuneGradsUsage } from './commands/finetune-grads.ts';
import { finetuneCommand, finetuneUsage } from './commands/finetune.ts';
import { probeCommand, probeUsage } from './commands/probe.ts';
import { analyzeCommand, analyzeUsage } from './commands/analyze.ts';

type Command = { run: (argv: string[], cli: CliContext) => Promise<void>; usage: string };

const COMMANDS: Record<string, Command> = {
  grads: { run: gradsCommand, usage: gradsUsage },
  train: { run: trainCommand, usage: trainUsage },
  reconstruct: { run: reconstructCommand, usage: reconstructUsage },
  convert: { run: convertCommand, usage: convertUsage },
  bench: { run: benchCommand, usage: benchUsage },
  embed: { run: embedCommand, usage: embedUsage },
  'finetune-grads': { run: finetuneGradsCommand, usage: finetuneGradsUsage },
  finetune: { run: finetuneCommand, usage: finetuneUsage },
  probe: { run: probeCommand, usage: probeUsage },
  analyze: { run: analyzeCommand, usage: analyzeUsage },
};

function usage(): string {
  return ['usage: npm run -s fcmae -- <command> [options]', '', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`fcmae: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: npm run -s fcmae -- ${command.usage}\n`);
    return 0;
  }
  let engine: Engine | null = null;
  const cli: CliContext = {
    async engine() {
      if (!engine) {
        engine = createEngine(await acquireNodeGpu(), loadShadersFromDisk());
        process.stderr.write(`adapter: ${adapterLabel(engine.ctx.adapter)}\n`);
      }
      return engine;
    },
    log: (line) => process.stdout.write(line + '\n'),
    warn: (line) => process.stderr.write(line + '\n'),
  };
  try {
    await command.run(rest, cli);
    return 0;
  } catch (e) {
    const err = e as Error;
    const line = err.message.split('\n')[0]!;
    process.stderr.write(`fcmae ${name}: ${line.startsWith(`${name}: `) ? line.slice(name.length + 2) : line}\n`);
    if (process.env.FCMAE_DEBUG) process.stderr.write(`${err.stack}\n`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    if (engine) destroyEngine(engine);
  }
}

// `npm run` starts scripts in the package folder; resolve the user's paths where they typed them.
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
main(process.argv.slice(2)).then((code) => process.exit(code));
