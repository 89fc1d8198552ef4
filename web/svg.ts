/**
 * Draws a timeline (GET /api/v1/timeline/NAME) as inline SVG, like the 3RC paper's figure: one
 * lane per VM, boot entry and hypervisor, state bands, and markers for decisions and boot-trace
 * events that show their details on hover. Every text goes in with textContent.
 */
import type { Marker, Timeline } from '../src/http/timeline.js';

const SVG = 'http://www.w3.org/2000/svg';
const LABEL_W = 120;
const AXIS_H = 22;
const LANE_H = 28;
const LANE_GAP = 8;

const STEPS = [1000, 5000, 10_000, 30_000, 60_000, 2 * 60_000, 5 * 60_000, 10 * 60_000, 30 * 60_000, 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000, 2 * 86_400_000, 7 * 86_400_000];

/** Axis ticks: multiples of a round step, at most `max` of them, within [from, to]. Pure. */
export function ticks(from: number, to: number, max = 8): number[] {
  const span = Math.max(1, to - from);
  const step = STEPS.find((s) => span / s <= max) ?? STEPS[STEPS.length - 1]!;
  const out: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) out.push(t);
  return out;
}

/** A tick's text: time of day (with seconds up to 10 minutes), day and time beyond two days. Pure (UTC). */
export function tickLabel(t: number, span: number): string {
  const iso = new Date(t).toISOString();
  if (span > 2 * 86_400_000) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return span <= 10 * 60_000 ? iso.slice(11, 19) : iso.slice(11, 16);
}

/** Markers close enough to overlap on screen, drawn as one. */
export interface MarkerCluster {
  lane: string;
  /** Where it is drawn: the first marker's time. */
  at: number;
  markers: Marker[];
  /** `decision` if any is one (they matter most), else the first's category. */
  category: Marker['category'];
}

/**
 * Groups each lane's markers whose x positions lie within `minPx` of the first of a group, so
 * that none hides another: a group is drawn once and lists its members on hover. Pure.
 */
export function clusterMarkers(markers: readonly Marker[], x: (at: number) => number, minPx: number): MarkerCluster[] {
  const byLane = new Map<string, Marker[]>();
  for (const m of markers) byLane.set(m.lane, [...(byLane.get(m.lane) ?? []), m]);
  const out: MarkerCluster[] = [];
  for (const [lane, ms] of byLane) {
    ms.sort((a, b) => a.at - b.at || a.id - b.id);
    let cur: MarkerCluster | null = null;
    for (const m of ms) {
      if (cur && x(m.at) - x(cur.at) < minPx) cur.markers.push(m);
      else out.push((cur = { lane, at: m.at, markers: [m], category: m.category }));
      if (m.category === 'decision') cur.category = 'decision';
    }
  }
  return out;
}

/** A class-safe form of a state or category name. */
export function cls(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]/g, '-');
}

export function fmtTime(t: number): string {
  return new Date(t).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function fmtSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? `${Math.floor((s % 86400) / 3600)}h` : ''}`;
}

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

/**
 * The timeline as an <svg> of the given width; `tooltip` is the element that shows a hovered
 * band's or marker's details; dragging across it calls `onZoom` with the range selected.
 */
export function renderTimeline(t: Timeline, width: number, tooltip: HTMLElement, now: number, onZoom?: (from: number, to: number) => void): SVGSVGElement {
  const plotW = Math.max(100, width - LABEL_W - 10);
  const height = AXIS_H + t.lanes.length * (LANE_H + LANE_GAP) + 4;
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'timeline-svg', role: 'img' });
  const title = el('title', {}, svg);
  title.textContent = `timeline of ${t.name}`;
  const span = t.to - t.from;
  const x = (at: number) => LABEL_W + ((Math.min(Math.max(at, t.from), t.to) - t.from) / span) * plotW;

  const show = (ev: MouseEvent, lines: string[]) => {
    tooltip.replaceChildren();
    lines.forEach((line, i) => {
      const d = document.createElement(i === 0 ? 'strong' : 'div');
      d.textContent = line;
      tooltip.appendChild(d);
    });
    tooltip.hidden = false;
    const box = tooltip.parentElement?.getBoundingClientRect();
    const left = ev.clientX - (box?.left ?? 0);
    const top = ev.clientY - (box?.top ?? 0);
    // Kept inside the timeline's box: to the left of the pointer near the right edge.
    const w = tooltip.offsetWidth;
    tooltip.style.left = `${box && left + 12 + w > box.width ? Math.max(0, left - 12 - w) : left + 12}px`;
    tooltip.style.top = `${top + 12}px`;
  };
  const hide = () => {
    tooltip.hidden = true;
  };
  const hover = (node: Element, lines: () => string[]) => {
    node.addEventListener('mouseenter', (ev) => show(ev as MouseEvent, lines()));
    node.addEventListener('mousemove', (ev) => show(ev as MouseEvent, lines()));
    node.addEventListener('mouseleave', hide);
  };

  // Axis and grid.
  const axis = el('g', { class: 'axis' }, svg);
  for (const tk of ticks(t.from, t.to, Math.max(2, Math.floor(plotW / 90)))) {
    el('line', { x1: x(tk), x2: x(tk), y1: AXIS_H - 4, y2: height, class: 'grid' }, axis);
    const label = el('text', { x: x(tk), y: AXIS_H - 8, 'text-anchor': 'middle' }, axis);
    label.textContent = tickLabel(tk, span);
  }

  t.lanes.forEach((lane, i) => {
    const y = AXIS_H + i * (LANE_H + LANE_GAP);
    const g = el('g', { class: `lane lane-${lane.kind}`, 'data-lane': lane.id }, svg);
    const name = el('text', { x: 4, y: y + LANE_H / 2 + 4, class: 'lane-label' }, g);
    name.textContent = `${lane.kind === 'boot' ? 'boot' : lane.kind === 'hypervisor' ? 'hv' : 'HA'} ${lane.name}`;
    el('rect', { x: LABEL_W, y, width: plotW, height: LANE_H, class: 'lane-bg' }, g);
    if (lane.bands.length === 0) {
      const none = el('text', { x: LABEL_W + 6, y: y + LANE_H / 2 + 4, class: 'lane-empty' }, g);
      none.textContent = lane.kind === 'hypervisor' ? 'not observed in this range' : 'no state known in this range';
    }
    for (const b of lane.bands) {
      const w = Math.max(1, x(b.to) - x(b.from));
      const r = el('rect', { x: x(b.from), y, width: w, height: LANE_H, class: `band st-${cls(b.state)}`, 'data-state': b.state }, g);
      hover(r, () => [`${lane.name}: ${b.state}`, `${fmtTime(b.from)} → ${fmtTime(b.to)} (${fmtSpan(b.to - b.from)})`, ...(b.reason ? [`reason: ${b.reason}`] : [])]);
      if (w > 60) {
        const txt = el('text', { x: x(b.from) + 4, y: y + LANE_H / 2 + 4, class: 'band-label' }, g);
        txt.textContent = b.state;
      }
    }
  });

  // Markers on top of every band, so that hovering always reaches them.
  const laneIndex = new Map(t.lanes.map((l, i) => [l.id, i]));
  const marks = el('g', { class: 'markers' }, svg);
  for (const c of clusterMarkers(t.markers, x, 12)) {
    const i = laneIndex.get(c.lane);
    if (i === undefined) continue;
    const cx = x(c.at);
    const cy = AXIS_H + i * (LANE_H + LANE_GAP) + LANE_H / 2;
    const decision = c.category === 'decision' || c.category === 'result';
    const g = el('g', { class: `marker mk-${cls(c.category)}`, tabindex: 0, 'data-count': c.markers.length, 'data-kinds': c.markers.map((m) => m.kind).join(' ') }, marks);
    if (decision) el('polygon', { points: `${cx},${cy - 8} ${cx + 6},${cy} ${cx},${cy + 8} ${cx - 6},${cy}` }, g);
    else el('circle', { cx, cy, r: 5 }, g);
    if (c.markers.length > 1) {
      const n = el('text', { x: cx + 7, y: cy - 5, class: 'marker-count' }, g);
      n.textContent = String(c.markers.length);
    }
    const first = c.markers[0]!;
    const tt = el('title', {}, g);
    tt.textContent = c.markers.length === 1 ? `${first.label} at ${fmtTime(first.at)}` : `${c.markers.length} events from ${fmtTime(first.at)}`;
    hover(g, () =>
      c.markers.length === 1
        ? [first.label, fmtTime(first.at), ...(first.detail ? first.detail.split('\n') : [])]
        : [
            `${c.markers.length} events`,
            ...c.markers.slice(0, 12).flatMap((m) => [`${fmtTime(m.at).slice(11)} ${m.label}`, ...(m.detail ? m.detail.split('\n').map((l) => `    ${l}`) : [])]),
            ...(c.markers.length > 12 ? [`… and ${c.markers.length - 12} more`] : []),
          ],
    );
  }

  if (now >= t.from && now <= t.to) el('line', { x1: x(now), x2: x(now), y1: AXIS_H - 4, y2: height, class: 'now' }, svg);

  // Drag to zoom: a selection rectangle between press and release.
  if (onZoom) {
    const sel = el('rect', { x: 0, y: AXIS_H - 4, width: 0, height: height - AXIS_H + 4, class: 'zoom-sel', visibility: 'hidden' }, svg);
    const px = (ev: MouseEvent) => Math.min(LABEL_W + plotW, Math.max(LABEL_W, ev.clientX - svg.getBoundingClientRect().left));
    const at = (p: number) => t.from + ((p - LABEL_W) / plotW) * span;
    let start: number | null = null;
    svg.addEventListener('mousedown', (ev) => {
      if (ev.button !== 0) return;
      start = px(ev);
      ev.preventDefault();
    });
    svg.addEventListener('mousemove', (ev) => {
      if (start === null) return;
      const p = px(ev);
      sel.setAttribute('x', String(Math.min(start, p)));
      sel.setAttribute('width', String(Math.abs(p - start)));
      sel.setAttribute('visibility', 'visible');
    });
    const finish = (ev: MouseEvent) => {
      if (start === null) return;
      const p = px(ev);
      const a = Math.min(start, p);
      const b = Math.max(start, p);
      start = null;
      sel.setAttribute('visibility', 'hidden');
      if (b - a >= 5) onZoom(Math.round(at(a)), Math.round(at(b)));
    };
    svg.addEventListener('mouseup', finish);
    svg.addEventListener('mouseleave', (ev) => finish(ev));
  }
  return svg;
}
