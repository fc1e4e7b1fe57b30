import { expect } from 'vitest';

// vitest types its asymmetric matchers `any`; these return `unknown`, so an expected object that
// holds one stays type-checked (and lint-clean) where it is written.

/** A string that matches `pattern`. */
export const stringMatching = (pattern: string | RegExp): unknown => expect.stringMatching(pattern);

/** Any value made by `constructor` (or of its primitive type: `String`, `Number`, ...). */
export const anyOf = (constructor: unknown): unknown => expect.any(constructor);
