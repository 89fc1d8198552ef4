/**
 * Where a 3rc's memory goes under a bench's load: its V8 heap spaces and external memory, read
 * from its own /metrics (prom-client's default metrics) a few times a second while the load
 * runs, each kept at its largest. RSS alone (VmHWM) does not say whether a peak is the young
 * generation, the old one, or outside the JS heap (the binary, malloc).
 */

/** Largest values seen, in MB. */
export interface HeapPeak {
  heapTotal: number;
  young: number;
  old: number;
  largeObjects: number;
  external: number;
}

const SERIES: Record<keyof HeapPeak, RegExp> = {
  heapTotal: /^threerc_nodejs_heap_size_total_bytes\s+(\S+)/m,
  young: /^threerc_nodejs_heap_space_size_total_bytes\{space="new"\}\s+(\S+)/m,
  old: /^threerc_nodejs_heap_space_size_total_bytes\{space="old"\}\s+(\S+)/m,
  largeObjects: /^threerc_nodejs_heap_space_size_total_bytes\{space="large_object"\}\s+(\S+)/m,
  external: /^threerc_nodejs_external_memory_bytes\s+(\S+)/m,
};

/** The values of one /metrics text, in MB (NaN for a series it lacks). */
export function heapOf(metrics: string): HeapPeak {
  const mb = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN) / 1048576;
  return Object.fromEntries(Object.entries(SERIES).map(([k, re]) => [k, mb(re)])) as unknown as HeapPeak;
}

/** Samples `${url}/metrics` every `everyMs` until stop(), which resolves to the largest values seen. */
export function sampleHeap(url: string, token: string, everyMs = 250): { stop(): Promise<HeapPeak> } {
  const peak: HeapPeak = { heapTotal: NaN, young: NaN, old: NaN, largeObjects: NaN, external: NaN };
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
        const now = heapOf(await r.text());
        for (const k of Object.keys(peak) as (keyof HeapPeak)[]) if (!Number.isNaN(now[k]) && !(now[k] <= peak[k])) peak[k] = now[k];
      } catch {
        // A scrape refused under load is a sample missed, not a failed bench.
      }
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}
