// The isolated scenario's processor for BullMQ's sandbox: plain JavaScript, the same no-op,
// returning the same small result as every handler of the bench.
export default async function processor() {
  return { ok: true };
}
