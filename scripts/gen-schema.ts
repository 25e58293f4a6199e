/** Writes schema/gantry.schema.json from the configuration schema (`npm run schema`). */
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config/index.js';

const out = new URL('../schema/gantry.schema.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
