// Spec globs live in package.json scripts, so `npx mocha some.spec.ts` runs just that file.
module.exports = {
  require: ['tsx/cjs'],
  extension: ['ts'],
  timeout: 60000,
  reporter: 'spec',
  exit: true,
};
