import type { RouteDefinition } from '../http/route.ts';
import deleteApiKey from './api-keys/_id/delete.ts';
import listApiKeys from './api-keys/get.ts';
import createApiKey from './api-keys/post.ts';
import getHealth from './health/get.ts';
import getReady from './ready/get.ts';
import createTenant from './tenants/post.ts';

/** Every route of the service. Files mirror URLs: `/a/{id}/b` is `a/_id/b/<method>.ts`. */
export const ROUTES = [getHealth, getReady, createTenant, createApiKey, listApiKeys, deleteApiKey] as unknown as readonly RouteDefinition[];
