import { paymentTokenVaultContract } from '../../test/contracts/payment-token-vault.contract';
import { MemoryPaymentTokenVault } from './memory-payment-token-vault';

paymentTokenVaultContract('MemoryPaymentTokenVault', { open: async () => new MemoryPaymentTokenVault() });
