// Text for the kb benchmarks (tests/bench/kb-ingest.mjs, tests/bench/endpoints.mjs): markdown
// documents made of a small business vocabulary, unique per seed, so searches find words and
// no two documents are deduplicated.

const WORDS = (
  "invoice refund shipment ledger customer warranty payment account carrier parcel " +
  "discount subscription renewal onboarding checklist escalation support billing tax export"
).split(" ");
export const pick = (n) => WORDS[n % WORDS.length];

/** ~`bytes` of markdown: headings, paragraphs and a list, unique to `seed`. */
export function markdown(seed, bytes) {
  const parts = [`# Guide ${seed}\n\n`];
  let size = parts[0].length;
  for (let s = 0; size < bytes; s++) {
    const section =
      `## ${pick(s)} ${pick(s + 7)} (${seed}.${s})\n\n` +
      `When a ${pick(s + 1)} arrives for ${pick(s + 2)} ${seed}-${s}, check the ${pick(s + 3)} and the ${pick(s + 4)} ` +
      `before anything else. The ${pick(s + 5)} team confirms the ${pick(s + 6)} within two business days, ` +
      `then records the outcome so that nobody repeats the work.\n\n` +
      `- ${pick(s + 8)}: verify the reference ${seed}/${s}\n- ${pick(s + 9)}: notify the owner\n\n`;
    parts.push(section);
    size += section.length;
  }
  let text = parts.join("");
  if (text.length > bytes) text = text.slice(0, bytes); // ASCII: characters are bytes
  return text;
}

/** `count` documents of ~`bytes` each for one POST /kb/documents:batch (a search corpus). */
export function corpus(seed, count, bytes) {
  return Array.from({ length: count }, (_, i) => ({
    externalId: `corpus-${i}`,
    title: `Corpus ${i}`,
    contentType: "markdown",
    content: markdown(`corpus-${seed}-${i}`, bytes),
  }));
}
