/**
 * Refusing a request whose body has not been read (a P2V chunk of up to 1 GiB, an installer's
 * log): the answer goes out at once, the connection is closed, and the body is never read to its
 * end. Closing a socket with unread data makes the kernel send a reset, which can destroy the
 * answer in the client's buffers before it reads it (a client still sending, such as busybox nc,
 * then dies of SIGPIPE without the status, cannot tell "stop" from a network failure and
 * retries). So the close lingers: after the answer, at most LINGER_BYTES more of the body are
 * read and dropped, for at most LINGER_MS, and only then is the socket destroyed (Apache's
 * "lingering close").
 */
import type { Request, Response } from 'express';
import type { Socket } from 'node:net';

/** The most of a refused body read after the answer. */
const LINGER_BYTES = 4 * 1024 * 1024;
/** The longest a refused connection stays open after the answer. */
const LINGER_MS = 2000;

/**
 * Sends the answer `send` writes (status and body) with `Connection: close`, then lingers as
 * described above. With a body already read (or none), it is an ordinary answer.
 */
export function refuseUnread(req: Request, res: Response, send: () => void): void {
  res.setHeader('Connection', 'close');
  if (req.complete || req.destroyed) return send();
  const socket: Socket = req.socket;
  let read = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Node destroys the socket as soon as the answer is written (destroySoon); this one ends only
  // its sending side (a FIN, so the client knows the answer is whole) and keeps reading a little.
  socket.destroySoon = function (this: Socket) {
    if (this.writable) this.end();
  };
  req.on('data', (d: Buffer) => {
    read += d.length;
    if (read > LINGER_BYTES) socket.destroy();
  });
  req.once('end', () => socket.destroy());
  req.resume();
  send();
}
