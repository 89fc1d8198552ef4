import { runBmcContract } from './contract.js';
import { FakeBmc } from './fake.js';

runBmcContract('fake', async () => {
  const bmc = new FakeBmc();
  return {
    driver: bmc,
    observe: async () => ({ power: bmc.state, boot: bmc.bootOverride }),
    cut: () => {
      bmc.down = true;
    },
  };
});
