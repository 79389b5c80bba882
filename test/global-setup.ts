// Filled in by the DynamoDB Local setup: starts one DynamoDB Local for the whole test run.
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
