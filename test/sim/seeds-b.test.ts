/** Seeds 100–199 of the 200 that npm test runs (seeds-a has 0–99, so the two halves run in parallel). */
import { seedRangeTest } from './seed-range.js';

seedRangeTest(100, 100);
