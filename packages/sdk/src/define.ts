import { Connector, type ActionDefinition, type ConnectorDefinition, type TriggerDefinition } from './connector.ts';
import type { SchemaLike } from './schema.ts';

/**
 * Declares an action. Returns its argument; `params` and `execute`'s argument share one inferred type.
 * @example
 * export const createCustomer = defineAction({
 *   name: 'createCustomer',
 *   description: 'Create a customer',
 *   params: { email: { type: 'string', format: 'email', required: true } },
 *   async execute(params, ctx) { return (await ctx.http.post('/customers', params)).data; },
 * });
 */
export function defineAction<const P extends SchemaLike | undefined = undefined, const O extends SchemaLike | undefined = undefined>(
  action: ActionDefinition<P, O>,
): ActionDefinition<NoInfer<P>, NoInfer<O>> {
  return action;
}

/** Declares a webhook or polling trigger. Returns its argument. */
export function defineTrigger<const O extends SchemaLike | undefined = undefined>(trigger: TriggerDefinition<O>): TriggerDefinition<NoInfer<O>> {
  return trigger;
}

/** Declares a connector from plain objects; the same {@link Connector} the class form builds. */
export function defineConnector(definition: ConnectorDefinition): Connector {
  return new Connector(definition);
}
