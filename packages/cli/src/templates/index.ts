import { commerceTemplate } from './commerce.ts';
import { crmTemplate } from './crm.ts';
import { messagingTemplate } from './messaging.ts';
import { paymentsTemplate } from './payments.ts';
import { restTemplate } from './rest.ts';
import type { TemplateDefinition } from './types.ts';

/** Every `init --template` choice, in the order help lists them. */
export const TEMPLATES: readonly TemplateDefinition[] = [commerceTemplate, crmTemplate, paymentsTemplate, messagingTemplate, restTemplate];

/** The template with this id, or undefined. */
export function findTemplate(id: string): TemplateDefinition | undefined {
  return TEMPLATES.find((t) => t.id === id);
}
