/** The simulator lives in src/lab (the HA lab gives its hypervisors one too); the tests import it from here. */
export * from '../../src/lab/ipmi-sim.js';
