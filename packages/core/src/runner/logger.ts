/** logger — the default console logger and the per-step child logger handed to `ctx.log`. */
import type { Logger } from '../graph/types';

export const consoleLogger: Logger = Object.freeze({
  debug: (message: string, data?: Record<string, unknown>) => console.debug(message, data ?? ''),
  info: (message: string, data?: Record<string, unknown>) => console.info(message, data ?? ''),
  warn: (message: string, data?: Record<string, unknown>) => console.warn(message, data ?? ''),
  error: (message: string, data?: Record<string, unknown>) => console.error(message, data ?? ''),
});

/** A logger that adds `fields` (run, step, attempt) to every record. */
export function withFields(logger: Logger, fields: Record<string, unknown>): Logger {
  return {
    debug: (m, d) => logger.debug(m, { ...fields, ...d }),
    info: (m, d) => logger.info(m, { ...fields, ...d }),
    warn: (m, d) => logger.warn(m, { ...fields, ...d }),
    error: (m, d) => logger.error(m, { ...fields, ...d }),
  };
}
