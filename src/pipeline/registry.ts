import type { Plugin } from '../sdk/plugin.js';

/** The plugins a config may name. Built-ins (plugins/index.ts) are registered the same way a user's are. */
export class PluginRegistry {
  readonly #plugins = new Map<string, Plugin>();

  constructor(plugins: Iterable<Plugin> = []) {
    for (const p of plugins) this.register(p);
  }

  register(plugin: Plugin): void {
    if (!/^[a-z][a-z0-9-]*$/.test(plugin.name)) throw new Error(`plugin name "${plugin.name}" must be kebab-case`);
    if (this.#plugins.has(plugin.name)) throw new Error(`plugin "${plugin.name}" is already registered`);
    this.#plugins.set(plugin.name, plugin);
  }

  get(name: string): Plugin | undefined {
    return this.#plugins.get(name);
  }

  all(): Plugin[] {
    return [...this.#plugins.values()];
  }
}
