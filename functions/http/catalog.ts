import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as pipelines from '../../shared/pipelines/service.ts';
import * as products from '../../shared/products/service.ts';

export const handler = httpApi(
  routes,
  'catalog',
  {
    createProduct: async ({ principal, body, idempotency }) => {
      const product = await products.createProduct(principal, body, idempotency);
      return {
        status: 201,
        body: product,
        version: product.version,
        headers: { location: `/v1/products/${product.id}` },
      };
    },
    listProducts: async ({ principal, query }) => ({
      status: 200,
      body: await products.listProducts(principal, query),
    }),
    getProduct: async ({ principal, params }) => {
      const product = await products.getProduct(principal, params.productId);
      return { status: 200, body: product, version: product.version };
    },
    patchProduct: async ({ principal, params, body, ifMatch }) => {
      const product = await products.patchProduct(principal, params.productId, body, ifMatch);
      return { status: 200, body: product, version: product.version };
    },
    deleteProduct: async ({ principal, params, ifMatch }) => {
      await products.deleteProduct(principal, params.productId, ifMatch);
      return { status: 204 };
    },
    restoreProduct: async ({ principal, params, ifMatch }) => {
      const product = await products.restoreProduct(principal, params.productId, ifMatch);
      return { status: 200, body: product, version: product.version };
    },
    createPipeline: async ({ principal, body, idempotency }) => {
      const pipeline = await pipelines.createPipeline(principal, body, idempotency);
      return {
        status: 201,
        body: pipeline,
        version: pipeline.version,
        headers: { location: `/v1/pipelines/${pipeline.id}` },
      };
    },
    listPipelines: async ({ principal, query }) => ({
      status: 200,
      body: await pipelines.listPipelines(principal, query),
    }),
    getPipeline: async ({ principal, params }) => {
      const pipeline = await pipelines.getPipeline(principal, params.pipelineId);
      return { status: 200, body: pipeline, version: pipeline.version };
    },
    patchPipeline: async ({ principal, params, body, ifMatch }) => {
      const pipeline = await pipelines.patchPipeline(principal, params.pipelineId, body, ifMatch);
      return { status: 200, body: pipeline, version: pipeline.version };
    },
    deletePipeline: async ({ principal, params, ifMatch }) => {
      await pipelines.deletePipeline(principal, params.pipelineId, ifMatch);
      return { status: 204 };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
