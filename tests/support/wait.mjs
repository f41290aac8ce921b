// Waiting for something asynchronous (a queue consumer, waitUntil work) to become true.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it returns something truthy (returned), or throws. */
export async function until(what, check, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * The tenant limit is a sliding window over epoch-aligned minutes: a burst that straddles a
 * minute boundary may rightly admit more than the limit (the previous minute's count is
 * weighted by what is left of it). A test counting on one window starts only with `needMs`
 * of the minute left.
 */
export async function awayFromMinuteEdge(needMs) {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) {
    console.log(`(waiting ${left + 250} ms for the next minute)`);
    await sleep(left + 250);
  }
}
