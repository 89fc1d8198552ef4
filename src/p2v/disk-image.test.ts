import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ChunkErrorCodes } from '../lib/errors.js';
import { ChunkError, DiskImage } from './disk-image.js';

const KiB = 1024;
const CHUNK = 256 * KiB;
const BYTES = 3.5 * CHUNK;

const root = mkdtempSync(join(tmpdir(), '3rc-p2v-disk-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newPath = () => join(root, `disk${n++}.raw`);

/** 3.5 chunks: random, all zero, random with zero 64 KiB blocks, and a short random tail. */
function content(): Buffer {
  const b = Buffer.alloc(BYTES);
  randomBytes(CHUNK).copy(b, 0);
  randomBytes(64 * KiB).copy(b, 2 * CHUNK + 64 * KiB);
  randomBytes(1000).copy(b, 2 * CHUNK + 200 * KiB); // a block with a little data
  randomBytes(CHUNK / 2).copy(b, 3 * CHUNK);
  return b;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const slice = (data: Buffer, i: number) => data.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, data.length));

/** A body in small pieces, as HTTP delivers it. */
function body(gz: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0; at < gz.length; at += 7000) pieces.push(gz.subarray(at, at + 7000));
  return Readable.from(pieces);
}

async function send(img: DiskImage, i: number, raw: Buffer, opts: { sha?: string } = {}): Promise<{ rawBytes: number }> {
  const gz = gzipSync(raw);
  return img.receive(i, body(gz), opts.sha ?? sha(gz));
}

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof ChunkError && err.code === code);
}

describe('p2v disk image', () => {
  it('round-trips an image chunk by chunk, reporting raw bytes', async () => {
    const path = newPath();
    const data = content();
    const img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
    assert.equal(img.chunkCount, 4);
    assert.equal(statSync(path).size, BYTES);
    for (let i = 0; i < 4; i++) {
      assert.equal(img.nextChunk(), i);
      const gz = gzipSync(slice(data, i));
      let reported = 0;
      const r = await img.receive(i, body(gz), sha(gz).toUpperCase(), (b) => (reported += b));
      assert.equal(r.rawBytes, slice(data, i).length);
      assert.equal(reported, r.rawBytes);
    }
    assert.equal(img.nextChunk(), 4);
    assert.ok(img.isComplete());
    assert.equal(img.receivedBytes(), BYTES);
    assert.equal(img.receivedChunks(), 4);
    assert.equal(await img.sha256(), sha(data));
    await img.close();
    assert.ok(readFileSync(path).equals(data));
    assert.deepEqual(JSON.parse(readFileSync(`${path}.chunks.json`, 'utf8')), { bytes: BYTES, chunkBytes: CHUNK, received: [0, 1, 2, 3] });
  });

  it('resumes after close at the first missing chunk, overwriting stale bytes there', async () => {
    const path = newPath();
    const data = content();
    let img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
    await send(img, 0, slice(data, 0));
    await send(img, 2, slice(data, 2));
    await img.close();
    // A crash during chunk 1 left garbage in it (the zero chunk, whose blocks are skippable).
    const fd = openSync(path, 'r+');
    writeSync(fd, randomBytes(CHUNK), 0, CHUNK, CHUNK);
    closeSync(fd);
    img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
    assert.equal(img.nextChunk(), 1);
    assert.equal(img.receivedBytes(), 2 * CHUNK);
    assert.ok(!img.isComplete());
    await send(img, 1, slice(data, 1));
    assert.equal(img.nextChunk(), 3);
    await send(img, 3, slice(data, 3));
    assert.ok(img.isComplete());
    assert.equal(await img.sha256(), sha(data));
    await img.close();
  });

  it('starts over when the sidecar does not match, is unreadable, or the file changed size', async () => {
    const path = newPath();
    const data = content();
    let img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
    await send(img, 0, slice(data, 0));
    await img.close();
    img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK / 2 });
    assert.equal(img.nextChunk(), 0);
    assert.equal(img.chunkCount, 7);
    assert.equal(await img.sha256(), sha(Buffer.alloc(BYTES)), 'old data dropped');
    await send(img, 0, slice(data, 0).subarray(0, CHUNK / 2));
    await img.close();
    writeFileSync(`${path}.chunks.json`, '{not json');
    img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK / 2 });
    assert.equal(img.nextChunk(), 0);
    await send(img, 0, slice(data, 0).subarray(0, CHUNK / 2));
    await img.close();
    writeFileSync(path, 'short');
    img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK / 2 });
    assert.equal(img.nextChunk(), 0);
    assert.equal(statSync(path).size, BYTES);
    await img.close();
  });

  it('refuses a bad checksum without marking the chunk, and a later good attempt fixes the contents', async () => {
    const path = newPath();
    const data = content();
    const img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
    await send(img, 0, slice(data, 0));
    // Chunk 2 (mostly zero blocks) first arrives corrupted: random bytes, checksum of something else.
    await refused(send(img, 2, randomBytes(CHUNK), { sha: '0'.repeat(64) }), ChunkErrorCodes.BAD_CHECKSUM);
    assert.equal(img.nextChunk(), 1);
    assert.equal(img.receivedChunks(), 1);
    assert.deepEqual(JSON.parse(readFileSync(`${path}.chunks.json`, 'utf8')).received, [0]);
    await send(img, 2, slice(data, 2));
    await send(img, 1, slice(data, 1));
    await send(img, 3, slice(data, 3));
    assert.equal(await img.sha256(), sha(data));
    await img.close();
  });

  it('refuses wrong lengths, destroying a zip bomb early', async () => {
    const img = await DiskImage.open({ path: newPath(), bytes: BYTES, chunkBytes: CHUNK });
    await refused(send(img, 0, Buffer.alloc(CHUNK + 1)), ChunkErrorCodes.BAD_LENGTH);
    await refused(send(img, 0, Buffer.alloc(CHUNK - 1)), ChunkErrorCodes.BAD_LENGTH);
    await refused(send(img, 3, Buffer.alloc(CHUNK)), ChunkErrorCodes.BAD_LENGTH); // the last chunk is half size
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * KiB)); // 256 MiB of zeros, ~256 KiB of gzip
    let read = 0;
    const stream = new Readable({
      read() {
        if (read >= bomb.length) return void this.push(null);
        this.push(bomb.subarray(read, read + 4096));
        read += 4096;
      },
    });
    await refused(img.receive(1, stream, sha(bomb)), ChunkErrorCodes.BAD_LENGTH);
    assert.ok(stream.destroyed, 'body destroyed');
    assert.ok(read < bomb.length / 4, `read ${read} of ${bomb.length} compressed bytes`);
    assert.equal(img.nextChunk(), 0);
    await img.close();
  });

  it('refuses bodies that are not gzip, or cut short', async () => {
    const img = await DiskImage.open({ path: newPath(), bytes: BYTES, chunkBytes: CHUNK });
    const junk = randomBytes(1000);
    await refused(img.receive(0, Readable.from([junk]), sha(junk)), ChunkErrorCodes.BAD_GZIP);
    const gz = gzipSync(randomBytes(CHUNK)).subarray(0, 5000);
    await refused(img.receive(0, Readable.from([gz]), sha(gz)), ChunkErrorCodes.BAD_GZIP);
    assert.equal(img.nextChunk(), 0);
    await img.close();
  });

  it('refuses bad indexes and a second concurrent receive of one chunk', async () => {
    const img = await DiskImage.open({ path: newPath(), bytes: BYTES, chunkBytes: CHUNK });
    const gz = gzipSync(Buffer.alloc(CHUNK));
    for (const i of [-1, 4, 1.5, Number.NaN]) await refused(img.receive(i, Readable.from([gz]), sha(gz)), ChunkErrorCodes.BAD_INDEX);
    const slow = new PassThrough();
    const first = img.receive(0, slow, sha(gz));
    await refused(img.receive(0, Readable.from([gz]), sha(gz)), ChunkErrorCodes.BUSY);
    await send(img, 1, Buffer.alloc(CHUNK)); // another chunk meanwhile is fine
    slow.end(gz);
    assert.deepEqual(await first, { rawBytes: CHUNK });
    assert.equal(img.nextChunk(), 2);
    await img.close();
  });

  it('skips zero blocks on a first attempt only', async () => {
    const path = newPath();
    const img = await DiskImage.open({ path, bytes: 4 * CHUNK, chunkBytes: CHUNK });
    await send(img, 0, Buffer.alloc(CHUNK));
    assert.ok(statSync(path).blocks * 512 < 64 * KiB, `${statSync(path).blocks} blocks after a zero chunk`);
    // A failed first attempt at chunk 1: its retry must write its zeros over whatever was there.
    await refused(send(img, 1, Buffer.alloc(CHUNK), { sha: 'f'.repeat(64) }), ChunkErrorCodes.BAD_CHECKSUM);
    await send(img, 1, Buffer.alloc(CHUNK));
    assert.ok(statSync(path).blocks * 512 >= CHUNK, 'the retry wrote every block');
    assert.equal(img.nextChunk(), 2);
    await img.close();
  });

  it('hashes chunks that arrive in order as they are written: the digest needs no read of the file', async () => {
    const path = newPath();
    const data = content();
    const img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
    for (let i = 0; i < 4; i++) {
      assert.equal(img.digestReady(), undefined, 'not before the last chunk');
      await send(img, i, slice(data, i));
    }
    // Spoil the file behind its back: a digest from the running hash does not see it, one that
    // re-read the file would.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('spoiled'), 0, 7, 10);
    closeSync(fd);
    assert.equal(img.digestReady(), sha(data));
    assert.equal(await img.sha256(), sha(data));
    await img.close();
  });

  it('hashes what came out of order (or was re-sent) from the file, from the first such chunk on', async () => {
    const data = content();
    for (const order of [[0, 2, 1, 3], [1, 0, 2, 3], [0, 1, 0, 2, 3]]) {
      const path = newPath();
      const img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
      for (const i of order) await send(img, i, slice(data, i));
      assert.ok(img.isComplete());
      assert.equal(img.digestReady(), undefined, `order ${order.join(',')}`);
      assert.equal(await img.sha256(), sha(data), `order ${order.join(',')}`);
      await img.close();
    }
  });

  it('creates the image and its sidecar for the owner only (0600), and tightens an existing image', async () => {
    const path = newPath();
    writeFileSync(path, Buffer.alloc(0), { mode: 0o644 });
    const img = await DiskImage.open({ path, bytes: BYTES, chunkBytes: CHUNK });
    await send(img, 0, slice(content(), 0));
    await img.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(`${path}.chunks.json`).mode & 0o777, 0o600);
    const fresh = newPath();
    await (await DiskImage.open({ path: fresh, bytes: BYTES, chunkBytes: CHUNK })).close();
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
  });
});
