import type { RouteDefinition } from '../http/route.ts';
import getHealth from './health/get.ts';
import getReady from './ready/get.ts';

/** Every route of the service. Files mirror URLs: `/a/{id}/b` is `a/_id/b/<method>.ts`. */
export const ROUTES: readonly RouteDefinition[] = [getHealth, getReady] as readonly RouteDefinition[];
