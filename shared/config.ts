import * as z from 'zod';

/**
 * Reads and validates environment configuration and fails fast with every problem named. Handlers import the typed
 * result; they never read `process.env` themselves. Prefer `lazyConfig` (below) so that reading happens on first use.
 */
export function readConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

export const tableConfigSchema = z.object({ TABLE_NAME: z.string().min(1) });

/**
 * Configuration read on first use rather than at module load: a module can be imported (by a function that never
 * calls it, or by a test before it sets the environment) without its variables, and a problem names itself where
 * it matters. The value is kept for the container's lifetime.
 */
export function lazyConfig<S extends z.ZodType>(schema: S, env: () => NodeJS.ProcessEnv = () => process.env) {
  let value: z.infer<S> | undefined;
  let read = false;
  return (): z.infer<S> => {
    if (!read) {
      value = readConfig(schema, env());
      read = true;
    }
    return value as z.infer<S>;
  };
}
