import { describe, expect, it } from 'vitest';
import { urlTemplate } from '../import/import-node.ts';
import { actionLabel, displayName, exportNames, lintSafeDescription } from './naming.ts';
import { tsLiteral, code } from './ts-literal.ts';

describe('naming for n8n', () => {
  it('builds lint-proof display names, descriptions and action labels', () => {
    expect(displayName('customer_id')).toBe('Customer ID');
    expect(displayName('webhookUrl')).toBe('Webhook URL');
    expect(lintSafeDescription('Sent as the `Idempotency-Key` header.')).toBe("Sent as the 'Idempotency-Key' header");
    expect(lintSafeDescription('The id. Must be <10 chars')).toBe('The ID. Must be &lt;10 chars.');
    expect(lintSafeDescription('confirm immediately', { boolean: true })).toBe('Whether to confirm immediately');
    expect(lintSafeDescription('Email', { displayName: 'Email' })).toBeUndefined();
    expect(actionLabel('Create Payment Intent')).toBe('Create payment intent');
    expect(actionLabel('Get URL Of SMS')).toBe('Get URL of SMS');
  });

  it('prefixes credential names so they never collide with n8n built-ins', () => {
    expect(exportNames({ name: 'stripe', displayName: 'Stripe', auth: { type: 'bearer' } })).toMatchObject({
      packageName: 'n8n-nodes-stripe', pascal: 'Stripe', nodeName: 'stripe', credentialClass: 'BosStripeApi', credentialName: 'bosStripeApi',
    });
    expect(exportNames({ name: 'google-sheets', displayName: 'Google Sheets', auth: { type: 'oauth2' } })).toMatchObject({ credentialClass: 'BosGoogleSheetsOAuth2Api', nodeName: 'googleSheets' });
  });

  it('prints TypeScript literals with code markers', () => {
    expect(tsLiteral({ inputs: [code('NodeConnectionTypes.Main')], 'a-b': "it's" }, 0)).toBe("{\n\tinputs: [NodeConnectionTypes.Main],\n\t'a-b': 'it\\'s',\n}");
  });

  it('reads simple n8n URL expressions and refuses others', () => {
    expect(urlTemplate('=/contacts/{{$parameter.contactId}}/notes')).toBe('/contacts/{contactId}/notes');
    expect(urlTemplate('={{"/deals/" + $parameter["dealId"]}}')).toBe('/deals/{dealId}');
    expect(urlTemplate('/plain')).toBe('/plain');
    expect(urlTemplate('=/x/{{$parameter.a.toUpperCase()}}')).toBeUndefined();
  });
});
