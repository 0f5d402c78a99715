/** Mocha root hooks shared by every test file. */
export const mochaHooks = {};
