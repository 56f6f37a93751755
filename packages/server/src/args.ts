/**
 * Command-line parsing for `vireo`, separate from running commands so it can be
 * unit-tested without starting anything.
 */
import { parseArgs } from 'node:util';

export type Command =
  | { cmd: 'start'; config: string | undefined; force: boolean }
  | { cmd: 'help' }
  | { cmd: 'version' }
  /** A usage error: print `message` and the usage, exit 2. */
  | { cmd: 'usage'; message: string };

export const USAGE = `Usage:
  vireo start [--config FILE] [--force]   Start a broker node in the foreground
  vireo ctl COMMAND …                     Operate the running node (vireo ctl --help)
  vireo version                           Print the version
  vireo help                              Print this help

Options of start:
  -c, --config FILE  YAML configuration file (default: $VIREO_CONFIG, else none:
                     built-in defaults plus VIREO_* environment overrides)
      --force        Report unknown configuration keys as warnings instead of
                     refusing to start (invalid values of known keys still fail),
                     and adopt a data dir (node.data_dir) that belongs to another
                     node name instead of refusing to start

Every key can be set from the environment: VIREO_ + the key path upper-cased
with __ for each dot, e.g. VIREO_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:1883.
See docs/configuration.md for every key.

Global options:
  -h, --help         Print this help
  -v, --version      Print the version
`;

export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    return { cmd: 'usage', message: err instanceof Error ? err.message : String(err) };
  }
  const { values, positionals } = parsed;
  if (values.help) return { cmd: 'help' };
  if (values.version) return { cmd: 'version' };
  const [cmd, ...rest] = positionals;
  if (cmd === undefined) return { cmd: 'usage', message: 'missing command' };
  if (rest.length) return { cmd: 'usage', message: `unexpected argument: ${rest[0]}` };
  const startOnly = values.config !== undefined || values.force !== undefined;
  switch (cmd) {
    case 'start':
      return { cmd: 'start', config: values.config, force: values.force ?? false };
    case 'help':
    case 'version':
      return startOnly ? { cmd: 'usage', message: `--config and --force apply to start only` } : { cmd };
    default:
      return { cmd: 'usage', message: `unknown command: ${cmd}` };
  }
}
