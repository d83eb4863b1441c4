// The isolated scenario's handler for Errand: plain JavaScript (no loader in the threads or
// processes), the same no-op as everywhere, returning the same small result.
export default async function handler() {
  return { ok: true };
}
