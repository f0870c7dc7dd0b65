import { paymentTokenVaultContract } from '../../test/contracts/payment-token-vault.contract';
import { PostgresDatabase } from './postgres-database';
import { PostgresPaymentTokenVault } from './postgres-payment-token-vault';
import { isolatedPostgresSchema } from '../../test/support/postgres-schema';

describe('PostgresPaymentTokenVault', () => {
  const options = isolatedPostgresSchema();
  let database: PostgresDatabase | undefined;

  const open = async (): Promise<PostgresPaymentTokenVault> => {
    database = new PostgresDatabase(options);
    return new PostgresPaymentTokenVault(database);
  };
  const close = async (): Promise<void> => {
    await database?.end();
    database = undefined;
  };
  paymentTokenVaultContract('PostgresPaymentTokenVault', { open, close, reopen: async () => (await close(), open()) });
});
