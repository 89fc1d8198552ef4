/**
 * Structural check of a rendered kickstart, the part Anaconda would refuse at install time:
 * every %packages/%pre/%post/... section closed by %end, no section inside another, and every
 * top-level line a known kickstart command (RHEL/Rocky/Alma 9). Pure: text in, problems out.
 */

const SECTIONS = new Set(['%packages', '%pre', '%pre-install', '%post', '%onerror', '%traceback', '%addon', '%anaconda', '%certificate']);

/** Kickstart commands of RHEL 9 (pykickstart RHEL9 handler). */
const COMMANDS = new Set([
  'authselect', 'autopart', 'autostep', 'bootloader', 'btrfs', 'cdrom', 'clearpart', 'cmdline', 'device', 'driverdisk', 'eula', 'fcoe',
  'firewall', 'firstboot', 'graphical', 'group', 'halt', 'harddrive', 'hmc', 'ignoredisk', 'iscsi', 'iscsiname', 'keyboard', 'lang',
  'liveimg', 'logging', 'logvol', 'mediacheck', 'module', 'mount', 'network', 'nfs', 'nvdimm', 'ostreecontainer', 'ostreesetup', 'part',
  'partition', 'poweroff', 'raid', 'realm', 'reboot', 'repo', 'reqpart', 'rescue', 'rhsm', 'rootpw', 'selinux', 'services', 'shutdown',
  'skipx', 'snapshot', 'sshkey', 'sshpw', 'syspurpose', 'text', 'timesource', 'timezone', 'updates', 'url', 'user', 'vnc', 'volgroup',
  'xconfig', 'zerombr', 'zfcp', 'zipl', '%include', '%ksappend',
]);

export interface KickstartProblem {
  /** 1-based line of the rendered kickstart. */
  line: number;
  message: string;
}

export function checkKickstart(text: string): KickstartProblem[] {
  const problems: KickstartProblem[] = [];
  let open: { name: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const n = i + 1;
    if (!line || line.startsWith('#')) return;
    const word = line.split(/\s+/)[0]!;
    if (word === '%end') {
      if (!open) problems.push({ line: n, message: '%end without an open section' });
      open = undefined;
      return;
    }
    if (SECTIONS.has(word)) {
      if (open) problems.push({ line: n, message: `${word} starts inside ${open.name} (line ${open.line}), which has no %end` });
      open = { name: word, line: n };
      return;
    }
    if (word.startsWith('%') && !COMMANDS.has(word)) {
      problems.push({ line: n, message: `unknown section ${word}` });
      return;
    }
    if (!open && !COMMANDS.has(word)) problems.push({ line: n, message: `unknown kickstart command ${JSON.stringify(word)}` });
  });
  if (open) problems.push({ line: open.line, message: `${open.name} is not closed with %end` });
  return problems;
}
