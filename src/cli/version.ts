/** Gantry's version, injected by the bundler from package.json (`dev` when running from source). */
declare const __GANTRY_VERSION__: string | undefined;

/** The version string shown by `--version` and sent in `User-Agent`. */
export const VERSION: string = typeof __GANTRY_VERSION__ === 'string' ? __GANTRY_VERSION__ : 'dev';
