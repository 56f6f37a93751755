#!/usr/bin/env node
/**
 * The `vireo` command. Installed as a bin through packages/server/bin/vireo.js (a
 * committed file, because npm links bins at install time, before `dist/` is built);
 * `node packages/server/dist/cli.js` works as well.
 */
import { parseCommand, USAGE } from './args.js';
import { VERSION } from './version.js';
import { tuneVm } from './vm-tuning.js';

const argv = process.argv.slice(2);
// `ctl` has its own options; everything else goes through the start/help parser
const command = argv[0] === 'ctl' ? ({ cmd: 'ctl' } as const) : parseCommand(argv);
switch (command.cmd) {
  case 'ctl':
    // loaded on demand: `ctl` need not load the broker, gRPC and the HTTP server (seconds on a busy machine)
    import('./ctl.js')
      .then(({ runCtl }) => runCtl(argv.slice(1)))
      .then(
        (code) => {
          process.exitCode = code;
        },
        (err: unknown) => {
          process.stderr.write(`vireo ctl: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exitCode = 1;
        },
      );
    break;
  case 'help':
    process.stdout.write(USAGE);
    break;
  case 'version':
    process.stdout.write(`vireo ${VERSION}\n`);
    break;
  case 'usage':
    process.stderr.write(`vireo: ${command.message}\n\n${USAGE}`);
    process.exitCode = 2;
    break;
  case 'start':
    tuneVm();
    import('./start.js')
      .then(({ start }) => start(command))
      .catch((err: unknown) => {
        process.stderr.write(`vireo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
      });
    break;
}
