import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../config/load.js';
import { ConfigError, ErrorCodes, InputError } from '../../lib/errors.js';
import { parseDhcpd } from '../../import/dhcpd.js';
import { parseDnsmasq } from '../../import/dnsmasq.js';
import { parseKea } from '../../import/kea.js';
import { mapToConfig } from '../../import/map.js';
import { mergeConfig } from '../../import/merge.js';
import { combine, formatNote, ImportError, readInput, type ImportModel, type InputFiles } from '../../import/model.js';
import { EXIT_FAIL, EXIT_OK, type Io } from '../io.js';

export const help = `Usage: 3rc import FORMAT FILE... [--merge CONFIG]

Turns another DHCP server's config into 3rc's: subnets (router, name servers, pool, lease
time), reserved hosts (name, MAC, address) and boot files, as servers.dhcp.bootFiles (for every
client, or per client architecture) or, for a host with a boot file of its own, a profile whose
loaders hold it. FORMAT is one of:
  dnsmasq   dhcp-host, dhcp-range, dhcp-boot, dhcp-match (client-arch) and tag: boot rules,
            dhcp-option router/dns-server, domain, host-record, addn-hosts, conf-file, conf-dir
  dhcpd     ISC dhcpd.conf: host blocks (hardware ethernet, fixed-address, filename,
            next-server), subnets, ranges, pools, groups, option routers/domain-name-servers/
            domain-name, default-lease-time, include
  kea       Kea DHCPv4 JSON (comments and <?include?> too): subnet4, pools, reservations,
            option-data, boot-file-name, next-server, client classes on option[93]

Without --merge, prints a config that 3rc check-config accepts (network, servers.dhcp.bootFiles,
profiles, hosts); with --merge CONFIG, adds the import to that config file in place, keeping
its comments, and refuses (changing nothing) when a host's MAC, address or name, a subnet, a
boot-file slot or a profile conflicts with what the config has, listing every conflict.

Every line with no 3rc equivalent is printed on stderr as
  file:line: <the line> has no 3rc equivalent, left out
Exits 0 when something was imported (with or without such lines), 1 when a file cannot be read
or nothing could be imported.`;

export const FORMATS = { dnsmasq: parseDnsmasq, dhcpd: parseDhcpd, kea: parseKea } as const;
export type Format = keyof typeof FORMATS;

/** The real file system, for the parsers. */
const diskFiles: InputFiles = {
  read: (path) => readFileSync(path, 'utf8'),
  list: (dir) => readdirSync(dir),
};

export function run(format: string, files: string[], opts: { merge?: string | undefined }, io: Io, fs: InputFiles = diskFiles): number {
  if (!(format in FORMATS)) throw new InputError(ErrorCodes.USAGE, `unknown format ${JSON.stringify(format)}: give dnsmasq, dhcpd or kea`);
  if (!files.length) throw new InputError(ErrorCodes.USAGE, 'name the file(s) to import: 3rc import FORMAT FILE...');
  const parse = FORMATS[format as Format];
  const model: ImportModel = combine(files.map((f) => parse(fs, resolve(f))));
  const mapped = mapToConfig(model);
  for (const n of mapped.notes) io.err(formatNote(n));
  for (const r of mapped.remarks) io.err(`note: ${r}`);
  const hosts = (mapped.config.hosts as unknown[]).length;
  const subnets = ((mapped.config.network as { subnets: unknown[] }).subnets).length;
  if (!hosts && !subnets) throw new ImportError(`nothing in ${files.join(', ')} could be imported (no subnet, no reserved host)`);

  if (!opts.merge) {
    const text = `# Imported by 3rc import ${format} from ${files.join(' ')}\n${stringify(mapped.config)}`;
    validate(text, resolve('imported.yaml'));
    io.out(text.trimEnd());
    io.err(`3rc import: ${subnets} subnet(s), ${hosts} host(s)`);
    return EXIT_OK;
  }
  const target = resolve(opts.merge);
  const merged = mergeConfig(readInput(fs, target), mapped.config);
  for (const r of merged.remarks) io.err(`note: ${r}`);
  if (merged.text === null) {
    for (const c of merged.conflicts) io.err(`conflict: ${c}`);
    io.err(`3rc import: ${merged.conflicts.length} conflict(s) with ${opts.merge}; nothing was changed`);
    return EXIT_FAIL;
  }
  validate(merged.text, target);
  const tmp = `${target}.import-${process.pid}`;
  writeFileSync(tmp, merged.text);
  renameSync(tmp, target);
  io.err(`3rc import: merged into ${opts.merge}`);
  return EXIT_OK;
}

/** Checks the result with 3rc's own loader; a failure here is an import bug, said as such. */
function validate(text: string, file: string): void {
  try {
    parseConfig(text, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ImportError(`the imported config does not validate, nothing was written:\n${err.message}`, { cause: err });
  }
}
