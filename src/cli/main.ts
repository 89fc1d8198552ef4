/**
 * The `3rc` command. Each subcommand lives in commands/; this file parses the command line,
 * prints help, and turns errors into one readable line and an exit code (0 ok, 1 failed,
 * 2 usage). A command's module is imported when it runs: `3rc serve` never loads the others'
 * code (the lab, the simulator, the importers) nor the config parser it reads apart (issue 26).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, ErrorCodes, InputError, ThreeRcError } from '../lib/errors.js';
import { packageVersion } from '../lib/paths.js';
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, processIo, type Io } from './io.js';
import { storeLockedMessage } from './target.js';
import type { StoreError } from '../lib/errors.js';

const DEFAULT_CONFIG = '/etc/3rc/config.yaml';

const HELP = `3rc: network-boot provisioning (DHCP, TFTP, HTTP, DNS) with an embedded HA controller

Usage: 3rc <command> [options]

Commands:
  serve          run the protocol servers
  reload         make the running 3rc read its config again (hosts, profiles, vars)
  check-config   validate a config file
  hosts          list hosts and their boot entries
  boot           set what a host boots next (install or local)
  simulate       crash-test the HA controller against a simulated cluster
  plan           what-if: where the HA planner would restart the VMs of failed hypervisors
  render         print what a host is served (kickstart/preseed, iPXE)
  lint           render every template for every host and check the results
  status         the HA controller's view of every VM
  lab            a PXE lab of namespaces and qemu VMs: lab up|down (root)
  crash-test     crash-test the HA controller on real hypervisors and VMs in the lab (root)
  p2v            capture a physical host into a VM on a hypervisor (physical-to-virtual)
  backup         a consistent copy of the store into a file, while 3rc serves
  restore        replace the store's contents with a backup (3rc stopped, or --force to wait)
  import         turn a dnsmasq, ISC dhcpd or Kea config into 3rc's (or --merge it into one)
  ha             operator actions: ha disable|enable|clear VM
  hv             hypervisor maintenance: hv drain|undrain|reinstall NAME, hv roll --all|NAME...|--cancel|--resume
  version        print the version

Every command that reads a config takes --config FILE (default: $THREERC_CONFIG, else
${DEFAULT_CONFIG}). Run '3rc <command> --help' for its options.`;

const VERSION_HELP = 'Usage: 3rc version\n\nPrints the version of 3rc.';

/** A command line that does not parse: exit 2 with a pointer to the help. */
function usage(message: string, field?: string): InputError {
  return new InputError(ErrorCodes.USAGE, message, field);
}

type Values = Record<string, string | boolean | undefined>;

function parse(args: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw usage((err as Error).message);
  }
}

const configOption = { config: { type: 'string', short: 'c' } } as const;

function configPath(values: Values, io: Io): string {
  return typeof values.config === 'string' ? values.config : io.env.THREERC_CONFIG || DEFAULT_CONFIG;
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(HELP);
      return command === undefined ? EXIT_USAGE : EXIT_OK;
    case 'version':
    case '--version':
    case '-v': {
      const { values } = parse(rest, {});
      if (values.help) return io.out(VERSION_HELP), EXIT_OK;
      io.out(`3rc ${packageVersion()} (node ${process.version})`);
      return EXIT_OK;
    }
    case 'serve': {
      const serve = await import('./commands/serve.js');
      const { values, positionals } = parse(rest, configOption);
      if (values.help) return io.out(serve.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      return serve.run(configPath(values, io), io);
    }
    case 'check-config': {
      const checkConfig = await import('./commands/check-config.js');
      const { values, positionals } = parse(rest, configOption);
      if (values.help) return io.out(checkConfig.help), EXIT_OK;
      if (positionals.length > 1) throw usage(`unexpected argument ${positionals[1]}`);
      return checkConfig.run(positionals[0] ?? configPath(values, io), io);
    }
    case 'hosts': {
      const hosts = await import('./commands/hosts.js');
      const { values, positionals } = parse(rest, { ...configOption, json: { type: 'boolean' } });
      if (values.help) return io.out(hosts.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      return hosts.run(configPath(values, io), { json: values.json === true }, io);
    }
    case 'boot': {
      const boot = await import('./commands/boot.js');
      const { values, positionals } = parse(rest, { ...configOption, install: { type: 'boolean' }, local: { type: 'boolean' }, 'no-power': { type: 'boolean' } });
      if (values.help) return io.out(boot.help), EXIT_OK;
      const [host, profile, extra] = positionals;
      if (!host) throw usage('name the host: 3rc boot HOST --install [PROFILE] | --local');
      if (values.install === values.local) throw usage('give exactly one of --install [PROFILE] or --local');
      if (values.local && profile) throw usage(`unexpected argument ${profile}: --local takes no profile`);
      if (extra) throw usage(`unexpected argument ${extra}`);
      if (values.local && values['no-power']) throw usage('--no-power goes with --install');
      return boot.run(configPath(values, io), host, values.install ? { mode: 'install', profile, noPower: values['no-power'] === true } : { mode: 'local' }, io);
    }
    case 'render': {
      const render = await import('./commands/render.js');
      const { values, positionals } = parse(rest, { ...configOption, profile: { type: 'string' }, only: { type: 'string' }, ipv6: { type: 'boolean' } });
      if (values.help) return io.out(render.help), EXIT_OK;
      const [host, extra] = positionals;
      if (!host) throw usage('name the host: 3rc render HOST [--profile P]');
      if (extra) throw usage(`unexpected argument ${extra}`);
      return render.run(configPath(values, io), host, { profile: values.profile as string | undefined, only: values.only as string | undefined, ipv6: values.ipv6 === true }, io);
    }
    case 'reload': {
      const reload = await import('./commands/reload.js');
      const { values, positionals } = parse(rest, configOption);
      if (values.help) return io.out(reload.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      return reload.run(configPath(values, io), io);
    }
    case 'status': {
      const status = await import('./commands/status.js');
      const { values, positionals } = parse(rest, { ...configOption, json: { type: 'boolean' } });
      if (values.help) return io.out(status.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      return status.run(configPath(values, io), { json: values.json === true }, io);
    }
    case 'ha': {
      const status = await import('./commands/status.js');
      const { values, positionals } = parse(rest, configOption);
      if (values.help) return io.out(status.help), EXIT_OK;
      const [op, vm, extra] = positionals;
      if (!op || !vm) throw usage('usage: 3rc ha disable|enable|clear VM');
      if (op !== 'disable' && op !== 'enable' && op !== 'clear') throw usage(`3rc ha takes disable, enable or clear, not ${JSON.stringify(op)}`);
      if (extra) throw usage(`unexpected argument ${extra}`);
      return status.operator(configPath(values, io), op, vm, io);
    }
    case 'hv': {
      const hv = await import('./commands/hv.js');
      const { values, positionals } = parse(rest, { ...configOption, all: { type: 'boolean' }, cancel: { type: 'boolean' }, resume: { type: 'boolean' } });
      if (values.help) return io.out(hv.help), EXIT_OK;
      const [op, name, ...others] = positionals;
      if (op === 'roll') {
        const modes = [values.all === true, name !== undefined, values.cancel === true, values.resume === true].filter(Boolean).length;
        if (modes !== 1) throw usage('usage: 3rc hv roll --all | NAME... | --cancel | --resume');
        return hv.run(configPath(values, io), op, name ?? '', io, { all: values.all === true, names: others, cancel: values.cancel === true, resume: values.resume === true });
      }
      if (!op || !name) throw usage('usage: 3rc hv drain|undrain|reinstall NAME, or 3rc hv roll --all | NAME... | --cancel | --resume');
      if (others[0]) throw usage(`unexpected argument ${others[0]}`);
      return hv.run(configPath(values, io), op, name, io);
    }
    case 'lint': {
      const lint = await import('./commands/lint.js');
      const { values, positionals } = parse(rest, configOption);
      if (values.help) return io.out(lint.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      return lint.run(configPath(values, io), io);
    }
    case 'simulate': {
      const simulate = await import('./commands/simulate.js');
      const { values, positionals } = parse(rest, { scenario: { type: 'string' }, runs: { type: 'string' }, timings: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' } });
      if (values.help) return io.out(simulate.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      return simulate.run({ scenario: str(values.scenario), runs: str(values.runs), timings: str(values.timings), seed: str(values.seed), json: values.json === true }, io);
    }
    case 'plan': {
      const plan = await import('./commands/plan.js');
      const { values, positionals } = parse(rest, { ...configOption, fail: { type: 'string', multiple: true }, json: { type: 'boolean' } });
      if (values.help) return io.out(plan.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      return plan.run(configPath(values, io), { fail: (values.fail as string[] | undefined) ?? [], json: values.json === true }, io);
    }
    case 'lab': {
      const lab = await import('./commands/lab.js');
      const { values, positionals } = parse(rest, { vm: { type: 'string', multiple: true }, install: { type: 'boolean' }, profile: { type: 'string' }, pxe: { type: 'boolean' }, disk: { type: 'string' } });
      if (values.help) return io.out(lab.help), EXIT_OK;
      if (positionals.length > 1) throw usage(`unexpected argument ${positionals[1]}`);
      const vms = (values as unknown as { vm?: string[] }).vm ?? [];
      return lab.run({ action: positionals[0], vms, install: values.install === true, profile: typeof values.profile === 'string' ? values.profile : undefined, pxe: values.pxe === true, disk: typeof values.disk === 'string' ? values.disk : undefined }, io);
    }
    case 'crash-test': {
      const crashTest = await import('./commands/crash-test.js');
      const { values, positionals } = parse(rest, { scenario: { type: 'string', multiple: true }, runs: { type: 'string' }, json: { type: 'boolean' }, verbose: { type: 'boolean' } });
      if (values.help) return io.out(crashTest.help), EXIT_OK;
      if (positionals.length) throw usage(`unexpected argument ${positionals[0]}`);
      const scenarios = (values as unknown as { scenario?: string[] }).scenario ?? [];
      return crashTest.run({ scenarios, runs: typeof values.runs === 'string' ? values.runs : undefined, json: values.json === true, verbose: values.verbose === true }, io);
    }
    case 'p2v': {
      const p2v = await import('./commands/p2v.js');
      const { values, positionals } = parse(rest, { ...configOption, to: { type: 'string' }, cpus: { type: 'string' }, memory: { type: 'string' }, 'no-wait': { type: 'boolean' }, json: { type: 'boolean' }, status: { type: 'boolean' }, cancel: { type: 'boolean' } });
      if (values.help) return io.out(p2v.help), EXIT_OK;
      const [host, extra] = positionals;
      if (extra) throw usage(`unexpected argument ${extra}`);
      const int = (name: string, v: unknown): number | undefined => {
        if (v === undefined) return undefined;
        if (typeof v !== 'string' || !/^[1-9][0-9]{0,7}$/.test(v)) throw usage(`--${name} takes a positive whole number, not ${JSON.stringify(v)}`);
        return Number(v);
      };
      const status = values.status === true;
      const cancel = values.cancel === true;
      if (status && cancel) throw usage('give --status or --cancel, not both');
      if (!status && !host) throw usage('name the host: 3rc p2v HOST --to HYPERVISOR');
      if (!status && !cancel && typeof values.to !== 'string') throw usage('name the hypervisor that runs the VM: --to HYPERVISOR');
      if ((status || cancel) && (values.to !== undefined || values.cpus !== undefined || values.memory !== undefined)) throw usage('--to, --cpus and --memory go with starting a P2V only');
      const cpus = int('cpus', values.cpus);
      const memoryMb = int('memory', values.memory);
      return p2v.run(configPath(values, io), {
        ...(host ? { host } : {}), ...(typeof values.to === 'string' ? { to: values.to } : {}), ...(cpus ? { cpus } : {}), ...(memoryMb ? { memoryMb } : {}),
        wait: values['no-wait'] !== true, json: values.json === true, status, cancel,
      }, io);
    }
    case 'backup':
    case 'restore': {
      const backup = await import('./commands/backup.js');
      const { values, positionals } = parse(rest, { ...configOption, ...(command === 'restore' ? { force: { type: 'boolean' } } : {}) });
      if (values.help) return io.out(backup.help), EXIT_OK;
      const [file, extra] = positionals;
      if (!file) throw usage(`name the backup file: 3rc ${command} FILE`);
      if (extra) throw usage(`unexpected argument ${extra}`);
      return command === 'backup' ? backup.backup(configPath(values, io), file, io) : backup.restore(configPath(values, io), file, { force: values.force === true }, io);
    }
    case 'import': {
      const importCmd = await import('./commands/import.js');
      const { values, positionals } = parse(rest, { merge: { type: 'string' } });
      if (values.help) return io.out(importCmd.help), EXIT_OK;
      const [format, ...files] = positionals;
      if (!format) throw usage('name the format and the files: 3rc import dnsmasq|dhcpd|kea FILE... [--merge CONFIG]');
      return importCmd.run(format, files, { merge: typeof values.merge === 'string' ? values.merge : undefined }, io);
    }
    default:
      throw usage(`unknown command ${JSON.stringify(command)}`, 'command');
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.message.split('\n')) io.err(line);
      io.err(`3rc: the config has ${err.problems.length} problem(s); nothing was started or changed`);
      return EXIT_FAIL;
    }
    // The command line's and a command's own argument checks (InputError with E_USAGE): exit 2.
    if (err instanceof ThreeRcError && err.code === ErrorCodes.USAGE) {
      const help = err instanceof InputError && err.field === 'command' ? '3rc --help' : `3rc ${argv[0]} --help`;
      io.err(`3rc: ${err.message}\nRun '${help}' for usage.`);
      return EXIT_USAGE;
    }
    if (err instanceof ThreeRcError) {
      const message = err.code === 'E_STORE_LOCKED' ? await lockedMessage(argv, io, err as StoreError) : err.message;
      io.err(`3rc: ${message}`);
      return EXIT_FAIL;
    }
    throw err;
  }
}

/** A locked store means different things to `serve` (another server) and to the CLI (use its API). */
async function lockedMessage(argv: string[], io: Io, err: StoreError): Promise<string> {
  if (argv[0] === 'serve') return `${err.message}; only one 3rc may serve a store`;
  if (argv[0] === 'restore') return err.message;
  try {
    const { values } = parse(argv.slice(1), { ...configOption, install: { type: 'boolean' }, local: { type: 'boolean' }, json: { type: 'boolean' } });
    const { loadConfig } = await import('../config/load.js');
    return storeLockedMessage(loadConfig(configPath(values, io)), err);
  } catch {
    return err.message;
  }
}
