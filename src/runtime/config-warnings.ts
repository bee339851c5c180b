// Settings that are valid but do nothing as written: logged as warnings at start and on
// reload, so that an operator learns why a feature is not there without a failed start.
import type { RawConfig } from '../config/types.js';

export function configWarnings(config: RawConfig): string[] {
  const warnings: string[] = [];
  if (config.portal === undefined) {
    const published = (config.services ?? []).filter((s) => s.portal?.published === true).map((s) => s.name);
    if (published.length > 0) {
      warnings.push(`services ${published.join(', ')} have portal.published: true but the config has no portal: section, so no portal lists them (docs/portal.md)`);
    }
  }
  return warnings;
}
