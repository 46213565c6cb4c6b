/** Seeds 0–99 of the 200 that npm test runs (seeds-b has 100–199, so the two halves run in parallel). */
import { seedRangeTest } from './seed-range.js';

seedRangeTest(0, 100);
