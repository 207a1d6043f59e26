export default async function teardown(): Promise<void> {
  globalThis.__CAIRN_PG__?.stop();
}
