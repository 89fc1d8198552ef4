import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GangliaParseError, parseGanglia } from './ganglia.js';

// Fixtures are modelled on gmond/gmetad 3.7 output (DTD, EXTRA_DATA, REPORTED/TN/TMAX...).
const fixture = (name: string) => readFileSync(new URL(`../../../src/monitor/fixtures/${name}`, import.meta.url), 'latin1');

describe('Ganglia XML', () => {
  it('reads gmond output: up/down by TN > 4 x TMAX, load_five, cpu_num', () => {
    const hosts = parseGanglia(fixture('gmond.xml'));
    assert.deepEqual(hosts.map((h) => [h.name, h.up, h.loadFive, h.cpuNum]), [
      ['hv1', true, 0.42, 8],
      ['hv2', false, 3.1, 16],
      ['hv3', true, 1.75, 8],
      ['vm10', true, 0.05, 2],
    ]);
    const hv1 = hosts[0]!;
    assert.equal(hv1.ip, '10.77.0.2');
    assert.equal(hv1.cluster, '3rc-lab');
    assert.equal(hv1.tn, 7);
    assert.equal(hv1.tmax, 20);
    assert.equal(hv1.reported, 1764086393);
  });

  it('takes k as an option', () => {
    const hosts = parseGanglia(fixture('gmond.xml'), { k: 2 });
    assert.equal(hosts.find((h) => h.name === 'hv3')!.up, false);
  });

  it('reads gmetad output with nested GRIDs', () => {
    const hosts = parseGanglia(fixture('gmetad.xml'));
    assert.deepEqual(hosts.map((h) => [h.name, h.cluster, h.up, h.loadFive]), [
      ['alfa01', 'rack-a', true, 6.5],
      ['alfa02', 'rack-a', false, 0.2],
      ['alfa04', 'rack-b', true, 0.8],
    ]);
  });

  it('keeps attribute values as strings and survives odd values', () => {
    const xml = `<GANGLIA_XML VERSION="3.7.2" SOURCE="gmond"><CLUSTER NAME="c" LOCALTIME="1">
      <HOST NAME="0123" IP="10.0.0.1" REPORTED="1" TN="abc" TMAX="20"><METRIC NAME="load_five" VAL="" TYPE="float"/></HOST>
      <HOST NAME="h2" IP="10.0.0.2" REPORTED="1" TN="1" TMAX="20"><METRIC NAME="load_five" VAL="1e400" TYPE="float"/><METRIC NAME="cpu_num" VAL="4" TYPE="uint16"/></HOST>
      <HOST IP="10.0.0.3" REPORTED="1" TN="1" TMAX="20"/>
    </CLUSTER></GANGLIA_XML>`;
    const hosts = parseGanglia(xml);
    assert.deepEqual(hosts.map((h) => [h.name, h.up, h.loadFive, h.cpuNum]), [['0123', false, null, null], ['h2', true, null, 4]]);
  });

  it('a single host, cluster or metric is still a list (no shape change with one element)', () => {
    const xml = '<GANGLIA_XML VERSION="3" SOURCE="gmond"><CLUSTER NAME="c" LOCALTIME="1"><HOST NAME="a" IP="1.2.3.4" REPORTED="1" TN="0" TMAX="20"><METRIC NAME="cpu_num" VAL="2" TYPE="uint16"/></HOST></CLUSTER></GANGLIA_XML>';
    assert.equal(parseGanglia(xml)[0]!.cpuNum, 2);
  });

  it('refuses what is not Ganglia XML with its own error', () => {
    for (const bad of ['', 'not xml', '<a><b></a>', '<other/>', '<GANGLIA_XML VERSION="1"><CLUSTER>', '<GANGLIA_XML>text</GANGLIA_XML>']) {
      assert.throws(() => parseGanglia(bad), (e: unknown) => e instanceof GangliaParseError && e.code === 'E_GANGLIA_XML', JSON.stringify(bad));
    }
  });

  it('property: any input parses or raises GangliaParseError, never anything else', () => {
    const real = fixture('gmond.xml');
    const mutated = fc.tuple(fc.nat(real.length), fc.nat(200), fc.string({ maxLength: 20 })).map(([at, del, ins]) => real.slice(0, at) + ins + real.slice(at + del));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), mutated), (input) => {
        try {
          const hosts = parseGanglia(input);
          assert.ok(Array.isArray(hosts));
          for (const h of hosts) assert.equal(typeof h.name, 'string');
        } catch (err) {
          assert.ok(err instanceof GangliaParseError, `unexpected ${String(err)}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
