// `northgate/sdk`: everything a plugin may use. Built-in plugins import the same modules.
export type { JsonSchema, Phase, Plugin, PluginHandler, PluginScope, RequestPhaseResult, StoreReadiness } from './plugin.js';
export { PHASES } from './plugin.js';
export { LocalReply } from './local-reply.js';
export { HeaderList } from './header-list.js';
