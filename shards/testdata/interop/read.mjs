// Reads a t2f shard directory with the apache-arrow JavaScript implementation
// and prints, as JSON, what it sees: each shard's schema and metadata, and
// every row's id, label, source and image bytes (hex).
// Usage: node read.mjs DIR    (after `npm ci` in this folder)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";

const dir = process.argv[2];
const manifest = JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8"));
const out = { shards: [], rows: [] };
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
  for (let i = 0; i < table.numRows; i++) {
    out.rows.push({
      id: String(id.get(i)),
      label: label.get(i),
      source: source.get(i),
      image: Buffer.from(image.get(i).toArray()).toString("hex"),
    });
  }
}
process.stdout.write(JSON.stringify(out));
