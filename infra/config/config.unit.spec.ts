import { expect } from 'chai';
import { ConfigError, parseConfig } from './config';

const problemsOf = (env: Record<string, string>): string => {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  return expect.fail('the config was accepted');
};

describe('config', () => {
  describe('given an invalid secret', () => {
    it('names the variable and never echoes the value', () => {
      const message = problemsOf({ CREST_ADMIN_TOKEN: 'short-secret', CREST_PAYMENT_WEBHOOK_SECRET: 'whsec-leaky,x' });
      expect(message).to.include('CREST_ADMIN_TOKEN=(hidden, 12 characters)');
      expect(message).to.include('CREST_PAYMENT_WEBHOOK_SECRET=(hidden, 13 characters)');
      expect(message).to.not.include('short-secret');
      expect(message).to.not.include('whsec-leaky');
    });

    it('hides a password inside a server URL', () => {
      const message = problemsOf({ REDIS_URL: 'http://admin:hunter2@cache:6379' });
      expect(message).to.include('REDIS_URL="http://***@cache:6379"');
      expect(message).to.not.include('hunter2');
    });
  });

  describe('given several webhook secrets', () => {
    it('keeps them in order: the first signs, any verifies', () => {
      const config = parseConfig({ CREST_PAYMENT_WEBHOOK_SECRET: 'new-secret-0123456789, old-secret-0123456789' });
      expect(config.CREST_PAYMENT_WEBHOOK_SECRET).to.deep.equal(['new-secret-0123456789', 'old-secret-0123456789']);
    });
  });

  describe('given circuit breaker settings', () => {
    it('has defaults for the read store and payment timeouts and the reset time', () => {
      const config = parseConfig({});
      expect([config.CREST_BREAKER_READ_TIMEOUT_MS, config.CREST_BREAKER_PAYMENT_TIMEOUT_MS, config.CREST_BREAKER_RESET_MS]).to.deep.equal([2000, 10_000, 5000]);
    });

    it('refuses a reset time that would hammer a dead dependency', () => {
      expect(problemsOf({ CREST_BREAKER_RESET_MS: '0' })).to.include('CREST_BREAKER_RESET_MS');
    });
  });

  describe('given customer auth', () => {
    it('is off by default', () => {
      expect(parseConfig({}).CREST_CUSTOMER_AUTH).to.equal('off');
    });

    it('needs exactly one of an HS256 secret and a JWKS URL', () => {
      expect(problemsOf({ CREST_CUSTOMER_AUTH: 'jwt' })).to.include('CREST_CUSTOMER_AUTH');
      expect(
        problemsOf({ CREST_CUSTOMER_AUTH: 'jwt', CREST_CUSTOMER_JWT_SECRET: 'a'.repeat(32), CREST_CUSTOMER_JWKS_URL: 'https://id.example/jwks.json' }),
      ).to.include('exactly one');
      expect(parseConfig({ CREST_CUSTOMER_AUTH: 'jwt', CREST_CUSTOMER_JWKS_URL: 'https://id.example/jwks.json' }).CREST_CUSTOMER_AUTH).to.equal('jwt');
    });
  });
});
