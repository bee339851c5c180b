// The plugin SDK (`northgate/sdk`): everything a plugin may use, built-in or not. A plugin
// that imports only from here keeps working when the gateway's insides change.
export type { Plugin, PluginHandler, PluginScope, Phase, RequestPhaseResult, StoreReadiness, JsonSchema, CheckEnvironment } from './plugin.js';
export type { CopyClient, CopyClientOptions, CopyDestination, CopyDropReason } from './copy-client.js';
export { PHASES } from './plugin.js';
export type { OpenApiContract, OpenApiObject, OpenApiOperation, OperationValidators, SchemaCheck, SchemaIssue } from './openapi.js';
export type { PluginContext, RouteView, ServiceView, TlsPeer } from './context.js';
export { localKey, type LocalKey } from './local-key.js';
export type { Consumer, Credential, JwtCredential, JwtAlgorithm, ConsumerDirectory } from './consumer.js';
export { JWT_ALGORITHMS } from './consumer.js';
export { LocalReply } from './local-reply.js';
export { HeaderList, addVary } from './header-list.js';
export type { ErrorCode } from '../base/errors.js';
export { DURATION_PATTERN, parseDuration } from '../base/duration.js';
export { HTTP_TOKEN_CHAR, HTTP_TOKEN_PATTERN, headerNameSchema, headerValueSchema } from '../base/schema-defs.js';
export { compileConfigRegex, type ConfigRegex } from '../base/regex.js';
