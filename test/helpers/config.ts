// Config-error helpers shared by the plugin tests.
import { loadConfigText } from '../../src/compiler/load.js';
import { ConfigError } from '../../src/base/problems.js';
import { defaultRegistry } from '../../src/plugins/index.js';

/** The FILE:LINE:COL PATH: message lines a config text produces ([] when valid). */
export function configProblems(yaml: string, file: string): string[] {
  try {
    loadConfigText(file, yaml, defaultRegistry());
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
}

/** A minimal config with one route carrying `plugin: <config>` (the plugin's line is line 8). */
export function routeWithPlugin(plugin: string, config: string): string {
  return `_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:1"
    routes:
      - paths: ["/"]
        plugins:
          ${plugin}: ${config}
`;
}
