// Reads a t2f shard directory with the apache-arrow JavaScript implementation
// and prints, as JSON, what it sees: each shard's schema and metadata, and
// every row's id, label, source and image bytes (hex).
// With --summary it prints only the row count, the label histogram, the sum of
// all pixel bytes and the sum of ids (for full-size datasets).
// Usage: node read.mjs DIR [--summary]    (after `npm ci` in this folder)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";

const dir = process.argv[2];
const manifest = JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8"));
const summary = process.argv.includes("--summary");
const out = { shards: [], rows: [] };
const sum = { rows: 0, histogram: {}, pixelSum: 0n, idSum: 0n };
for (const s of manifest.shards) {
  const table = tableFromIPC(readFileSync(join(dir, s.file)));
  out.shards.push({
    file: s.file,
    rows: table.numRows,
    batches: table.batches.length,
    fields: table.schema.fields.map((f) => ({ name: f.name, type: String(f.type) })),
    metadata: Object.fromEntries(table.schema.metadata),
  });
  const id = table.getChild("id"), label = table.getChild("label");
  const image = table.getChild("image"), source = table.getChild("source");
  for (let i = 0; summary && i < table.numRows; i++) {
    const l = label.get(i);
    sum.histogram[l] = (sum.histogram[l] ?? 0) + 1;
    let p = 0;
    for (const v of image.get(i).toArray()) p += v;
    sum.pixelSum += BigInt(p);
    sum.idSum += BigInt(id.get(i));
    sum.rows++;
  }
  for (let i = 0; !summary && i < table.numRows; i++) {
    out.rows.push({
      id: String(id.get(i)),
      label: label.get(i),
      source: source.get(i),
      image: Buffer.from(image.get(i).toArray()).toString("hex"),
    });
  }
}
if (summary) {
  process.stdout.write(JSON.stringify({ ...sum, pixelSum: String(sum.pixelSum), idSum: String(sum.idSum) }));
} else {
  process.stdout.write(JSON.stringify(out));
}
