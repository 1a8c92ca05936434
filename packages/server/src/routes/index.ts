import type { RouteDefinition } from '../http/route.ts';
import deleteApiKey from './api-keys/_id/delete.ts';
import listApiKeys from './api-keys/get.ts';
import createApiKey from './api-keys/post.ts';
import deleteConnection from './connections/_id/delete.ts';
import testConnection from './connections/_id/test/post.ts';
import executeConnector from './connectors/_name/execute/post.ts';
import listNodes from './connectors/nodes/get.ts';
import getExecution from './executions/_id/get.ts';
import listConnections from './connections/get.ts';
import createConnection from './connections/post.ts';
import getHealth from './health/get.ts';
import listInstallations from './installations/get.ts';
import uninstall from './installations/_id/delete.ts';
import install from './marketplace/install/_id/post.ts';
import getConnector from './marketplace/connectors/_id/get.ts';
import putRating from './marketplace/connectors/_id/rating/put.ts';
import listReviews from './marketplace/connectors/_id/reviews/get.ts';
import listVersions from './marketplace/connectors/_id/versions/get.ts';
import connectorDocs from './marketplace/connectors/_id/docs/get.ts';
import searchMarketplace from './marketplace/search/get.ts';
import oauthCallback from './oauth/callback/get.ts';
import getReady from './ready/get.ts';
import createTenant from './tenants/post.ts';
import getUsage from './usage/get.ts';
import ackEvents from './events/ack/post.ts';
import readEvents from './events/get.ts';
import disableTrigger from './connections/_id/triggers/_subscriptionId/delete.ts';
import listConnectionTriggers from './connections/_id/triggers/get.ts';
import enableTrigger from './connections/_id/triggers/post.ts';
import testTrigger from './connections/_id/triggers/test/post.ts';
import listTriggers from './triggers/get.ts';
import receiveWebhook from './webhooks/_endpointId/post.ts';

/** Every route of the service. Files mirror URLs: `/a/{id}/b` is `a/_id/b/<method>.ts`. */
export const ROUTES = [
  getHealth,
  getReady,
  createTenant,
  createApiKey,
  listApiKeys,
  deleteApiKey,
  searchMarketplace,
  getConnector,
  listVersions,
  connectorDocs,
  listReviews,
  putRating,
  install,
  listInstallations,
  uninstall,
  createConnection,
  listConnections,
  deleteConnection,
  testConnection,
  executeConnector,
  getExecution,
  listNodes,
  enableTrigger,
  listConnectionTriggers,
  disableTrigger,
  testTrigger,
  listTriggers,
  receiveWebhook,
  readEvents,
  ackEvents,
  getUsage,
  oauthCallback,
] as unknown as readonly RouteDefinition[];
