/** Public surface of the jobs layer: the durable promotion runtime behind `gantry serve`. */
export type * from './desk.js';
