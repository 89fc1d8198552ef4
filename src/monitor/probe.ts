/**
 * Direct probes: a TCP connect to a VM's or hypervisor's SSH port, with a timeout. Seconds to
 * detect a dead machine, where Ganglia needs ~70 s. A refused connection is an answer (the
 * machine is up, sshd is not); only a timeout or an unreachable network says "no answer".
 */
import { connect } from 'node:net';

export interface ProbeResult {
  /** The port accepted the connection. */
  open: boolean;
  /** Something answered (accepted or refused): the machine's network stack is alive. */
  answered: boolean;
  /** errno code or 'timeout' when not open. */
  error?: string;
}

/** Connects to host:port, then closes at once. Never rejects. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    // The timer is the probe's own deadline, not policy time: real I/O needs a real timer.
    const timer = setTimeout(() => finish({ open: false, answered: false, error: 'timeout' }), timeoutMs);
    socket.once('connect', () => finish({ open: true, answered: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ open: false, answered: err.code === 'ECONNREFUSED', error: err.code ?? err.message }));
  });
}

/** Probes many targets with at most `concurrency` connections at once; results in input order. */
export async function probeAll(targets: readonly { host: string; port: number }[], opts: { timeoutMs: number; concurrency: number }): Promise<ProbeResult[]> {
  const out = new Array<ProbeResult>(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const t = targets[i]!;
      out[i] = await probeTcp(t.host, t.port, opts.timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, targets.length) }, worker));
  return out;
}
