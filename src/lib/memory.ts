/**
 * This process's memory in MB (one decimal), for the start-up phases' debug lines (issue 26:
 * where the memory of a large inventory goes) and the "3rc ready" line.
 */
export interface MemoryMb {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;

export function memoryMb(): MemoryMb {
  const m = process.memoryUsage();
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) };
}
