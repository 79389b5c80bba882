/** Synthetic runs for the bench's own tests: figures shaped like a real run's, scaled so runs differ. */
import type { AssignmentFigure, RunFigures, SalesFigures } from './results.ts';

const load = (perSecond: number, p50Ms: number) => ({ ops: 1000, errors: 0, perSecond, p50Ms, p99Ms: p50Ms * 3 });
const lat = (p50Ms: number) => ({ samples: 100, p50Ms, p95Ms: p50Ms * 2 });
const tail = (p50Ms: number) => ({ samples: 100, p50Ms, p99Ms: p50Ms * 4 });

/** Sales figures shaped like a real run's: conversion at 0.6 x raw (times scale), a 6-stage board read as expected. */
export function syntheticSales(scale: number): SalesFigures {
  const requests = ['GetItem', 'GetItem', 'TransactWriteItems'];
  return {
    convertLead: {
      api: load(30 * scale, 120),
      inLambdaP50Ms: 95,
      raw: load(50, 60),
      ratio: 0.6 * scale,
      requests,
      transactItems: 15,
      requestBytes: 13_000,
    },
    moveStage: {
      api: load(60, 60),
      inLambdaP50Ms: 45,
      raw: load(80, 40),
      ratio: 0.75,
      requests,
      transactItems: 3,
      requestBytes: 2_900,
    },
    board: {
      deals: 10_000,
      stages: 6,
      limit: 10,
      seedSeconds: 4,
      board: { api: tail(30 * scale), raw: tail(20) },
      nextPage: { api: tail(8), raw: tail(4) },
      boardRequests: {
        calls: 20,
        perCall: 7,
        operations: { GetItem: 1, Query: 6 },
        expected: ['GetItem', 'Query', 'Query', 'Query', 'Query', 'Query', 'Query'],
        asExpected: true,
      },
      nextPageRequests: { calls: 20, perCall: 1, operations: { Query: 1 }, expected: ['Query'], asExpected: true },
      sameDeals: true,
      seededAsApi: true,
    },
  };
}

/** An assignment fairness figure: 1,000 creates over 8 members, spread `maxMinusMin`. */
export function syntheticAssignment(maxMinusMin: number): AssignmentFigure {
  return {
    members: 8,
    creates: 1000,
    assigned: 1000,
    failed: 0,
    maxMinusMin,
    storedMaxMinusMin: maxMinusMin,
    ideal: 0,
  };
}

export function syntheticRun(scale: number): RunFigures {
  return {
    startupSeconds: 9.5 * scale,
    throughput: {
      create: { api: load(100 * scale, 72), inLambdaP50Ms: 68, raw: load(110, 74), ratio: 0.91 * scale },
      get: { api: load(550 * scale, 12.9), inLambdaP50Ms: 9, raw: load(990, 6.5), ratio: 0.56 * scale },
      list: { api: load(350 * scale, 20), inLambdaP50Ms: 15, raw: load(540, 12), ratio: 0.65 * scale },
    },
    httpNoDynamo: load(1880 * scale, 3.3),
    coldFirstCallMs: { create: 794, get: 55, list: 137 },
    buildMsPerCreate: 0.4,
    withoutDatabase: {
      create: { calls: 5000, wallUsPerCall: 400, p50Us: 380, cpuUsPerCall: 420 * scale, callsPerSecondPerCore: 2381 },
      get: { calls: 5000, wallUsPerCall: 150, p50Us: 140, cpuUsPerCall: 160 * scale, callsPerSecondPerCore: 6250 },
      list: { calls: 5000, wallUsPerCall: 600, p50Us: 590, cpuUsPerCall: 610 * scale, callsPerSecondPerCore: 1639 },
    },
    requestsPerCall: {
      create: {
        expected: ['TransactWriteItems'],
        calls: 20,
        perCall: 1,
        minPerCall: 1,
        maxPerCall: 1,
        operations: { TransactWriteItems: 20 },
        entities: ['contact', 'lookup'],
        asExpected: true,
        sameAsRaw: true,
      },
      patch: {
        expected: ['GetItem', 'TransactWriteItems'],
        calls: 20,
        perCall: 2,
        minPerCall: 2,
        maxPerCall: 2,
        operations: { GetItem: 20, TransactWriteItems: 20 },
        entities: ['contact', 'lookup'],
        asExpected: true,
      },
    },
    listScaling: {
      tenants: {
        small: {
          contacts: 1000,
          seedSeconds: 0.8,
          pages: {
            first: { api: lat(8.5), raw: lat(4), addedP50Ms: 4.5 },
            next: { api: lat(8), raw: lat(3.8), addedP50Ms: 4.2 },
            middle: { api: lat(8.4), raw: lat(3.7), addedP50Ms: 4.7 * scale },
          },
        },
        large: {
          contacts: 50000,
          seedSeconds: 28,
          pages: {
            first: { api: lat(8.6), raw: lat(4.1), addedP50Ms: 4.5 },
            next: { api: lat(8.1), raw: lat(3.9), addedP50Ms: 4.2 },
            middle: { api: lat(20 * scale), raw: lat(16), addedP50Ms: 4 },
          },
        },
      },
      addedRatio: { first: 1, next: 1, middle: 0.85 / scale },
      samePage: true,
    },
    sales: syntheticSales(scale),
    bundles: {
      ApiContacts: {
        entry: 'functions/http/contacts.ts',
        bytes: 529_638,
        gzipBytes: 141_000,
        initMs: 360 * scale,
        sdkInitMs: 145,
      },
      ApiDocs: { entry: 'functions/http/docs.ts', bytes: 178_000, gzipBytes: 52_000, initMs: 110, sdkInitMs: 6 },
    },
    largestBundle: {
      function: 'ApiContacts',
      entry: 'functions/http/contacts.ts',
      outputBytes: 529_000,
      packages: [
        { name: 'electrodb', bytes: 195_000 },
        { name: 'libphonenumber-js', bytes: 121_000 },
      ],
    },
  };
}
